package store

// The etcd key layout. Every key Drover writes is built here and nowhere else;
// docs/etcd-layout.md documents it for operators. Values are protojson
// (camelCase, as in Kubernetes manifests) so `etcdctl get` prints readable JSON.
//
//	/drover/jobs/<namespace>/<name>                 Job          written by API server and leader
//	/drover/pods/<namespace>/<name>                 Pod          spec by leader, status by the pod's worker
//	/drover/cronjobs/<namespace>/<name>             CronJob      written by API server (spec) and leader (status)
//	/drover/daemonsets/<namespace>/<name>           DaemonSet    written by API server (spec) and leader (status)
//	/drover/nodes/<name>                            Node         written by the node's worker, cordon by API
//	/drover/heartbeats/<node>                       liveness     attached to the worker's lease (N1, N2)
//	/drover/assignments/<node>/<namespace>/<pod>    Pod (bound)  written by leader, watched by that node's worker only
//	/drover/events/<namespace>/<name>               Event        attached to a shared events lease (1 h TTL)
//	/drover/leader/<lease id>                       election     concurrency.Election keys; the lowest create revision leads
import (
	"path"
	"strings"
)

// Root is the prefix of every key Drover writes.
const Root = "/drover/"

// Key prefixes, each ending in '/'.
const (
	JobsPrefix        = Root + "jobs/"
	PodsPrefix        = Root + "pods/"
	CronJobsPrefix    = Root + "cronjobs/"
	DaemonSetsPrefix  = Root + "daemonsets/"
	NodesPrefix       = Root + "nodes/"
	HeartbeatsPrefix  = Root + "heartbeats/"
	AssignmentsPrefix = Root + "assignments/"
	EventsPrefix      = Root + "events/"
	LeaderPrefix      = Root + "leader/"
)

// LeaderElection is the prefix handed to concurrency.NewElection, which adds
// "/<lease id>" itself: the keys are LeaderPrefix + "<lease id>".
const LeaderElection = Root + "leader"

// HeartbeatKey is the liveness key of a node, attached to its worker's lease.
func HeartbeatKey(node string) string { return HeartbeatsPrefix + node }

// AssignmentKey is where a bound pod is published to its node's worker.
func AssignmentKey(node, namespace, pod string) string {
	return AssignmentsPrefix + node + "/" + namespace + "/" + pod
}

// AssignmentPrefix is the prefix one node's worker watches.
func AssignmentPrefix(node string) string { return AssignmentsPrefix + node + "/" }

// NodeFromHeartbeatKey returns the node a heartbeat key belongs to.
func NodeFromHeartbeatKey(key string) string { return strings.TrimPrefix(key, HeartbeatsPrefix) }

// namespacedKey is prefix + namespace + "/" + name.
func namespacedKey(prefix, namespace, name string) string {
	return prefix + namespace + "/" + name
}

// namespacePrefix is the prefix of one namespace's objects, or of all of them
// when namespace is empty.
func namespacePrefix(prefix, namespace string) string {
	if namespace == "" {
		return prefix
	}
	return prefix + namespace + "/"
}

// splitKey returns the namespace and name of a namespaced key below prefix.
func splitKey(prefix, key string) (namespace, name string) {
	rest := strings.TrimPrefix(key, prefix)
	ns, n := path.Split(rest)
	return strings.TrimSuffix(ns, "/"), n
}
