package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

func daemonSetManifest(version, strategy string) string {
	rolling := "\n    rollingUpdate: {maxUnavailable: 1}"
	if strategy == "OnDelete" {
		rolling = ""
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  updateStrategy:
    type: %s%s
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: agent:%s
        command: ["sh", "-c", "echo agent %s on $HOSTNAME; exec sleep 1000"]
`, strategy, rolling, version, version)
}

func (c *cluster) daemonSet(name string) *v1.DaemonSet {
	c.t.Helper()
	ds, err := store.New(c.etcd).DaemonSets().Get(context.Background(), "default", name)
	if err != nil {
		c.t.Fatalf("daemonset %s: %v", name, err)
	}
	return ds
}

// daemonPods maps node -> the DaemonSet's pods there not being deleted.
func (c *cluster) daemonPods(ds string) map[string][]*v1.Pod {
	c.t.Helper()
	pods, _, err := store.New(c.etcd).Pods().List(context.Background(), "default")
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string][]*v1.Pod{}
	for _, p := range pods {
		for _, r := range p.GetMetadata().GetOwnerReferences() {
			if r.GetKind() == "DaemonSet" && r.GetName() == ds && p.GetMetadata().GetDeletionTimestamp() == nil {
				out[p.GetSpec().GetNodeName()] = append(out[p.GetSpec().GetNodeName()], p)
			}
		}
	}
	return out
}

func podReady(p *v1.Pod) bool {
	if p.GetMetadata().GetDeletionTimestamp() != nil || p.GetStatus().GetPhase() != "Running" {
		return false
	}
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" && c.GetStatus() == "True" {
			return true
		}
	}
	return false
}

// waitDaemonSet waits for the status and for one Running pod on exactly
// the given nodes.
func (c *cluster) waitDaemonSet(what string, nodes []string, want func(*v1.DaemonSetStatus) bool) {
	c.t.Helper()
	c.eventually(what, 45*time.Second, func() error {
		st := c.daemonSet("agent").GetStatus()
		pods := c.daemonPods("agent")
		var got []string
		for n, ps := range pods {
			if len(ps) == 1 && podReady(ps[0]) {
				got = append(got, n)
			}
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(nodes, ",") || len(pods) != len(nodes) || !want(st) {
			return fmt.Errorf("ready pods on %v (pods on %d nodes), status %v", got, len(pods), st)
		}
		return nil
	})
}

// TestDaemonSetAcrossWorkers is SPEC D1-D3 end to end with separate worker
// processes: a pod on each of 3 workers; a 4th worker joins and gets one;
// a worker killed with SIGKILL (lease TTL 4 s) loses its pod and leaves the
// status; a template change rolls node by node, never more than
// maxUnavailable (1) nodes without an available pod, as seen by a watch of
// every pod write; `drover rollout status` follows it; with OnDelete a
// template change replaces only the pod that is deleted.
func TestDaemonSetAcrossWorkers(t *testing.T) {
	c := newCluster(t)
	workers := map[string]*proc{}
	for _, w := range []string{"w1", "w2", "w3"} {
		workers[w] = c.startWorker(w)
	}
	c.waitNodesReady("w1", "w2", "w3")
	c.apply("ds1", daemonSetManifest("1", "RollingUpdate"))
	c.waitDaemonSet("3 pods", []string{"w1", "w2", "w3"}, func(st *v1.DaemonSetStatus) bool {
		return st.GetDesiredNumberScheduled() == 3 && st.GetNumberReady() == 3 && st.GetNumberAvailable() == 3
	})
	if out := c.mustCLI("get", "ds"); !strings.Contains(out, "agent") {
		t.Fatalf("get ds:\n%s", out)
	}

	workers["w4"] = c.startWorker("w4")
	c.waitDaemonSet("w4 joins", []string{"w1", "w2", "w3", "w4"}, func(st *v1.DaemonSetStatus) bool {
		return st.GetDesiredNumberScheduled() == 4 && st.GetNumberReady() == 4
	})

	killed := time.Now()
	workers["w2"].signal(syscall.SIGKILL)
	c.waitDaemonSet("w2's pod removed", []string{"w1", "w3", "w4"}, func(st *v1.DaemonSetStatus) bool {
		return st.GetDesiredNumberScheduled() == 3 && st.GetCurrentNumberScheduled() == 3 && st.GetNumberReady() == 3
	})
	t.Logf("measured: w2's pod left the DaemonSet %v after SIGKILL (lease TTL 4s)", time.Since(killed).Round(100*time.Millisecond))

	// Rolling update, observed through every pod write in revision order.
	alive := []string{"w1", "w3", "w4"}
	start, err := c.etcd.Get(context.Background(), "/drover/")
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu           sync.Mutex
		worst        int
		replacements []string
	)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		pods := map[string]*v1.Pod{}
		initial, _ := c.etcd.Get(wctx, "/drover/pods/default/", clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision))
		for _, kv := range initial.Kvs {
			p := &v1.Pod{}
			if protojson.Unmarshal(kv.Value, p) == nil {
				pods[string(kv.Key)] = p
			}
		}
		for resp := range c.etcd.Watch(wctx, "/drover/pods/default/", clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1)) {
			for _, ev := range resp.Events {
				k := string(ev.Kv.Key)
				if ev.Type == clientv3.EventTypeDelete {
					delete(pods, k)
				} else {
					p := &v1.Pod{}
					if protojson.Unmarshal(ev.Kv.Value, p) != nil {
						continue
					}
					if pods[k] == nil && strings.HasPrefix(p.GetMetadata().GetName(), "agent-") {
						mu.Lock()
						replacements = append(replacements, p.GetSpec().GetNodeName())
						mu.Unlock()
					}
					pods[k] = p
				}
				unavailable := 0
				for _, n := range alive {
					ok := false
					for _, p := range pods {
						if p.GetSpec().GetNodeName() == n && podReady(p) {
							ok = true
						}
					}
					if !ok {
						unavailable++
					}
				}
				mu.Lock()
				worst = max(worst, unavailable)
				mu.Unlock()
			}
		}
	}()
	c.apply("ds2", daemonSetManifest("2", "RollingUpdate"))
	c.mustCLI("rollout", "status", "daemonset/agent", "--timeout", "60s")
	c.waitDaemonSet("rolled out", alive, func(st *v1.DaemonSetStatus) bool {
		return st.GetUpdatedNumberScheduled() == 3 && st.GetNumberAvailable() == 3
	})
	for n, ps := range c.daemonPods("agent") {
		if img := ps[0].GetSpec().GetContainers()[0].GetImage(); img != "agent:2" {
			t.Errorf("node %s runs %s after the rollout", n, img)
		}
	}
	time.Sleep(300 * time.Millisecond) // let the watch catch up
	cancel()
	<-watchDone
	mu.Lock()
	t.Logf("measured: at most %d of 3 nodes without an available pod during the rollout (maxUnavailable 1); new pods in order on %v", worst, replacements)
	if worst > 1 {
		t.Errorf("%d nodes unavailable at once, maxUnavailable is 1", worst)
	}
	if len(replacements) != 3 {
		t.Errorf("%d pods created by the rollout, want 3 (one a node)", len(replacements))
	}
	mu.Unlock()

	// OnDelete: nothing moves until a pod is deleted.
	c.apply("ds3", daemonSetManifest("3", "OnDelete"))
	time.Sleep(2 * time.Second)
	before := c.daemonPods("agent")
	for n, ps := range before {
		if img := ps[0].GetSpec().GetContainers()[0].GetImage(); img != "agent:2" {
			t.Fatalf("OnDelete replaced %s's pod (%s) without a deletion", n, img)
		}
	}
	c.mustCLI("delete", "pod", before["w3"][0].GetMetadata().GetName())
	c.eventually("w3 gets the new template", 30*time.Second, func() error {
		ps := c.daemonPods("agent")["w3"]
		if len(ps) != 1 || ps[0].GetSpec().GetContainers()[0].GetImage() != "agent:3" || !podReady(ps[0]) {
			return fmt.Errorf("w3: %v", ps)
		}
		return nil
	})
	for _, n := range []string{"w1", "w4"} {
		ps := c.daemonPods("agent")[n]
		if len(ps) != 1 || ps[0].GetSpec().GetContainers()[0].GetImage() != "agent:2" || ps[0].GetMetadata().GetUid() != before[n][0].GetMetadata().GetUid() {
			t.Errorf("OnDelete touched %s: %v", n, ps)
		}
	}
}
