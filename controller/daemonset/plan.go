// Package daemonset is the DaemonSet reconciler (SPEC D1-D3): a pure planner
// (plan.go) and the thin shell (controller.go) that reads the leader's cache
// and applies a plan as one fenced etcd transaction.
//
// Eligible nodes are the live nodes (liveness key present) whose labels
// match spec.template.spec.nodeSelector. Cordoned nodes stay eligible, as in
// Kubernetes (daemon pods tolerate node.kubernetes.io/unschedulable): a
// daemon is node infrastructure, not a workload to move away.
package daemonset

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/controller/event"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/validation"
)

// Labels and annotations on daemon pods.
const (
	// LabelRevisionHash holds a hash of the template a pod was made from (D2).
	LabelRevisionHash = "controller-revision-hash"
	// LabelControllerUID ties a pod to its DaemonSet (the cache's owner index).
	LabelControllerUID = "controller-uid"
	// AnnotationFailures counts the consecutive failed pods on the node
	// before this one; the next replacement waits FailureBackoff(n).
	AnnotationFailures = "drover.io/daemon-failures"
	// AnnotationTerminationReason says why the controller stopped a pod.
	AnnotationTerminationReason = "drover.io/termination-reason"
)

// Backoff for re-creating a failed daemon pod on the same node (D1).
const (
	BackoffBase = time.Second
	BackoffMax  = 5 * time.Minute
)

// maxActionsPerPlan keeps a plan within one transaction: a creation and a
// deletion are two operations each (pod and assignment), plus the DaemonSet.
const maxActionsPerPlan = 60

// NodeInfo is a node as the planner needs it.
type NodeInfo struct {
	Node  *v1.Node
	Alive bool
}

// Deletion is a pod to remove: graceful (the worker stops it, the garbage
// collector removes it once stopped) unless Now is set (its node is gone).
type Deletion struct {
	Pod    *v1.Pod
	Now    bool
	Reason string
}

// Event is an event to record for the DaemonSet.
type Event = event.Event

// Plan is what one reconcile decided.
type Plan struct {
	Status *v1.DaemonSetStatus
	// Create are new pods, already bound to their node (spec.nodeName).
	Create []*v1.Pod
	Delete []Deletion
	Events []Event
	// Requeue asks for another pass at once (the plan was cut); RequeueAfter
	// for a timed one (failure backoff, minReadySeconds).
	Requeue      bool
	RequeueAfter time.Duration
}

// TemplateHash is the revision hash of a DaemonSet's pod template.
func TemplateHash(ds *v1.DaemonSet) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(ds.GetSpec().GetTemplate())
	h := fnv.New32a()
	_, _ = h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// FailureBackoff is the delay before the (n+1)-th pod after n consecutive
// failures on one node: 1 s, 2 s, 4 s … capped at 5 minutes.
func FailureBackoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := BackoffBase
	for i := 1; i < n && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

func terminal(p *v1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed"
}

func deleting(p *v1.Pod) bool { return p.GetMetadata().GetDeletionTimestamp() != nil }

// readySince is when the pod became Ready, or zero if it is not Ready.
func readySince(p *v1.Pod) time.Time {
	if terminal(p) || deleting(p) || p.GetStatus().GetPhase() != "Running" {
		return time.Time{}
	}
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" && c.GetStatus() == "True" {
			if c.GetLastTransitionTime() != nil {
				return c.GetLastTransitionTime().AsTime()
			}
			return p.GetMetadata().GetCreationTimestamp().AsTime()
		}
	}
	return time.Time{}
}

// finishedAt is when a terminal pod stopped (its last container's finish).
func finishedAt(p *v1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if f := cs.GetState().GetTerminated().GetFinishedAt(); f != nil && f.AsTime().After(t) {
			t = f.AsTime()
		}
	}
	for _, c := range p.GetStatus().GetConditions() {
		if lt := c.GetLastTransitionTime(); t.IsZero() && lt != nil && lt.AsTime().After(t) {
			t = lt.AsTime()
		}
	}
	if t.IsZero() {
		t = p.GetMetadata().GetCreationTimestamp().AsTime()
	}
	return t
}

func failures(p *v1.Pod) int {
	n, _ := strconv.Atoi(p.GetMetadata().GetAnnotations()[AnnotationFailures])
	return n
}

// nodePods is one node's daemon pods, sorted.
type nodePods struct {
	live     []*v1.Pod // not terminal, not being deleted
	deleting []*v1.Pod
	failed   []*v1.Pod
}

// plan decides one reconcile of a DaemonSet (SPEC D1-D3). newName and
// newUID make the names and uids of created pods.
func plan(ds *v1.DaemonSet, nodes []NodeInfo, pods []*v1.Pod, now time.Time, newName func() string, newUID func() string) *Plan {
	p := &Plan{}
	spec := ds.GetSpec()
	hash := TemplateHash(ds)
	minReady := time.Duration(spec.GetMinReadySeconds()) * time.Second
	sel, err := labels.FromLabelSelector(&v1.LabelSelector{MatchLabels: spec.GetTemplate().GetSpec().GetNodeSelector()})
	if err != nil {
		sel = nil
	}

	byNode := map[string]*nodePods{}
	for _, pod := range pods {
		n := pod.GetSpec().GetNodeName()
		np := byNode[n]
		if np == nil {
			np = &nodePods{}
			byNode[n] = np
		}
		switch {
		case terminal(pod):
			np.failed = append(np.failed, pod)
		case deleting(pod):
			np.deleting = append(np.deleting, pod)
		default:
			np.live = append(np.live, pod)
		}
	}
	for _, np := range byNode {
		// Updated pods first, then the oldest: the one a node keeps.
		sort.Slice(np.live, func(a, b int) bool {
			ua, ub := np.live[a].GetMetadata().GetLabels()[LabelRevisionHash] == hash, np.live[b].GetMetadata().GetLabels()[LabelRevisionHash] == hash
			if ua != ub {
				return ua
			}
			return np.live[a].GetMetadata().GetCreationTimestamp().AsTime().Before(np.live[b].GetMetadata().GetCreationTimestamp().AsTime())
		})
	}

	eligible := map[string]bool{}
	alive := map[string]bool{}
	var names []string
	for _, ni := range nodes {
		name := ni.Node.GetMetadata().GetName()
		alive[name] = ni.Alive
		if ni.Alive && (sel == nil || sel.Matches(ni.Node.GetMetadata().GetLabels())) {
			eligible[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	deleting := ds.GetMetadata().GetDeletionTimestamp() != nil
	actions := 0
	del := func(pod *v1.Pod, reason string) {
		if actions >= maxActionsPerPlan {
			p.Requeue = true
			return
		}
		actions++
		p.Delete = append(p.Delete, Deletion{Pod: pod, Now: !alive[pod.GetSpec().GetNodeName()] || terminal(pod), Reason: reason})
	}
	wakeAt := func(t time.Time) {
		if d := t.Sub(now); d > 0 && (p.RequeueAfter == 0 || d < p.RequeueAfter) {
			p.RequeueAfter = d
		}
	}

	st := &v1.DaemonSetStatus{ObservedGeneration: ds.GetMetadata().GetGeneration(), DesiredNumberScheduled: int32(len(names))}
	// Pods on nodes that are not eligible: removed (a lost node's pod at
	// once, a live node's gracefully) (D1).
	var podNodes []string
	for n := range byNode {
		podNodes = append(podNodes, n)
	}
	sort.Strings(podNodes)
	for _, n := range podNodes {
		np := byNode[n]
		if eligible[n] && !deleting {
			continue
		}
		if len(np.live) > 0 && alive[n] {
			st.NumberMisscheduled++
		}
		for _, pod := range np.live {
			del(pod, "NodeNotEligible")
		}
		for _, pod := range np.failed {
			del(pod, "NodeNotEligible")
		}
		if !alive[n] {
			for _, pod := range np.deleting {
				del(pod, "NodeLost")
			}
		}
	}
	if deleting {
		p.Status = st
		return p
	}

	ru := spec.GetUpdateStrategy().GetRollingUpdate()
	rolling := spec.GetUpdateStrategy().GetType() != "OnDelete"
	maxUnavailable, maxSurge := 0, 0
	if rolling {
		maxUnavailable, _ = validation.ScaledValue(orDefault(ru.MaxUnavailable, validation.DefaultMaxUnavailable), len(names), true)
		maxSurge, _ = validation.ScaledValue(orDefault(ru.MaxSurge, validation.DefaultMaxSurge), len(names), true)
		if maxUnavailable == 0 && maxSurge == 0 {
			maxUnavailable = 1
		}
	}

	type nodeState struct {
		name      string
		keep      *v1.Pod // the pod the node keeps (nil: none live)
		updated   bool
		available bool
		surge     *v1.Pod // an updated pod created beside an old one
	}
	var states []*nodeState
	unavailable := 0
	for _, n := range names {
		np := byNode[n]
		if np == nil {
			np = &nodePods{}
		}
		ns := &nodeState{name: n}
		states = append(states, ns)
		// Failed pods (the worker restarts containers in place, so a
		// daemon pod fails only when stopped from outside): remove, and
		// replace after the backoff.
		var lastFailure *v1.Pod
		for _, f := range np.failed {
			if lastFailure == nil || finishedAt(f).After(finishedAt(lastFailure)) {
				lastFailure = f
			}
		}
		if len(np.live) > 0 {
			// live is sorted updated first, then oldest.
			ns.keep = np.live[0]
			ns.updated = ns.keep.GetMetadata().GetLabels()[LabelRevisionHash] == hash
			rest := np.live[1:]
			if last := np.live[len(np.live)-1]; ns.updated && rolling && maxSurge > 0 && last.GetMetadata().GetLabels()[LabelRevisionHash] != hash {
				// An old pod still serving beside its surge replacement:
				// the old one goes once the new one is available (below).
				ns.keep, ns.surge = last, np.live[0]
				rest = np.live[1 : len(np.live)-1]
			}
			for _, extra := range rest {
				del(extra, "Duplicate")
			}
			for _, f := range np.failed {
				del(f, "Failed")
			}
		} else if len(np.deleting) == 0 {
			n := 0
			if lastFailure != nil {
				n = failures(lastFailure) + 1
				due := finishedAt(lastFailure).Add(FailureBackoff(n))
				if now.Before(due) {
					wakeAt(due)
					unavailable++
					continue
				}
				for _, f := range np.failed {
					del(f, "Failed")
				}
			}
			if actions < maxActionsPerPlan {
				actions++
				pod := newPod(ds, ns.name, hash, newName(), newUID(), now)
				if n > 0 {
					pod.Metadata.Annotations[AnnotationFailures] = strconv.Itoa(n)
				}
				p.Create = append(p.Create, pod)
				ns.keep, ns.updated = pod, true
				if lastFailure != nil {
					p.Events = append(p.Events, Event{Type: "Warning", Reason: "FailedDaemonPod", Message: fmt.Sprintf("Found failed daemon pod %s on node %s, will try to kill it", lastFailure.GetMetadata().GetName(), ns.name)})
				}
			} else {
				p.Requeue = true
			}
		}
		if ns.keep != nil {
			if ns.surge != nil && !readySince(ns.surge).IsZero() {
				wakeAt(readySince(ns.surge).Add(minReady))
			}
			rs := readySince(ns.keep)
			ns.available = !rs.IsZero() && !now.Before(rs.Add(minReady))
			if !rs.IsZero() && !ns.available {
				wakeAt(rs.Add(minReady))
			}
		}
		if !ns.available {
			unavailable++
		}
	}

	// D2: rolling update, node by node.
	if rolling {
		budget := maxUnavailable - unavailable
		surgeUsed := 0
		for _, ns := range states {
			if ns.surge != nil {
				surgeUsed++
			}
		}
		for _, ns := range states {
			switch {
			case ns.keep == nil || ns.updated && ns.surge == nil:
				continue
			case ns.surge != nil:
				// keep is the old pod, surge the new one: drop the old once
				// the new one is available.
				rs := readySince(ns.surge)
				if !rs.IsZero() && !now.Before(rs.Add(minReady)) {
					del(ns.keep, "Updated")
				}
			case !ns.available:
				// An old pod that is not available anyway: replace it
				// without waiting for the budget.
				del(ns.keep, "Updated")
			case maxSurge > 0 && surgeUsed < maxSurge && actions < maxActionsPerPlan:
				actions++
				surgeUsed++
				p.Create = append(p.Create, newPod(ds, ns.name, hash, newName(), newUID(), now))
			case maxSurge == 0 && budget > 0:
				budget--
				del(ns.keep, "Updated")
			}
		}
	}

	// D3: status.
	for _, ns := range states {
		if ns.keep == nil {
			continue
		}
		st.CurrentNumberScheduled++
		if ns.updated {
			st.UpdatedNumberScheduled++
		}
		if !readySince(ns.keep).IsZero() {
			st.NumberReady++
		}
		if ns.available {
			st.NumberAvailable++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	p.Status = st
	return p
}

func orDefault(v *string, def string) string {
	if v == nil {
		return def
	}
	return *v
}

// newPod makes a daemon pod bound to node (the scheduler skips it; the
// assignment is written in the same transaction).
func newPod(ds *v1.DaemonSet, node, hash, name, uid string, now time.Time) *v1.Pod {
	tmpl := ds.GetSpec().GetTemplate()
	md := &v1.ObjectMeta{
		Name:              name,
		Namespace:         ds.GetMetadata().GetNamespace(),
		Uid:               uid,
		Labels:            map[string]string{},
		Annotations:       map[string]string{},
		CreationTimestamp: timestamppb.New(now),
		OwnerReferences: []*v1.OwnerReference{{
			ApiVersion: "apps/v1", Kind: "DaemonSet", Name: ds.GetMetadata().GetName(), Uid: ds.GetMetadata().GetUid(),
			Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true),
		}},
	}
	for k, v := range tmpl.GetMetadata().GetLabels() {
		md.Labels[k] = v
	}
	for k, v := range tmpl.GetMetadata().GetAnnotations() {
		md.Annotations[k] = v
	}
	md.Labels[LabelRevisionHash] = hash
	md.Labels[LabelControllerUID] = ds.GetMetadata().GetUid()
	spec, _ := proto.Clone(tmpl.GetSpec()).(*v1.PodSpec)
	if spec == nil {
		spec = &v1.PodSpec{}
	}
	spec.NodeName = node
	ts := timestamppb.New(now)
	return &v1.Pod{
		ApiVersion: "v1", Kind: "Pod", Metadata: md, Spec: spec,
		Status: &v1.PodStatus{Phase: "Pending", Conditions: []*v1.PodCondition{{Type: "PodScheduled", Status: "True", LastTransitionTime: ts}}},
	}
}
