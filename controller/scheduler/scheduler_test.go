package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// ni is a candidate node: allocatable "cpu,memory,pods" as quantities ("" for
// none), labels, and what its pods already use.
func ni(name string, capacity map[string]string, labels map[string]string, used resources) *nodeInfo {
	n := &v1.Node{Metadata: &v1.ObjectMeta{Name: name, Labels: labels}, Status: &v1.NodeStatus{Allocatable: capacity}}
	return &nodeInfo{node: n, alloc: nodeAllocatable(n), used: used}
}

func podReq(cpu, mem string, selector map[string]string) *v1.Pod {
	req := map[string]string{}
	if cpu != "" {
		req["cpu"] = cpu
	}
	if mem != "" {
		req["memory"] = mem
	}
	return &v1.Pod{Spec: &v1.PodSpec{NodeSelector: selector, Containers: []*v1.Container{{Name: "c", Resources: &v1.ResourceRequirements{Requests: req}}}}}
}

var (
	small = map[string]string{"cpu": "2", "memory": "4Gi", "pods": "10"}
	ssd   = map[string]string{"disk": "ssd"}
)

// TestPickNodeSelectorAndCapacity (SPEC S1): only nodes whose labels match
// the nodeSelector and whose free capacity covers the requests are chosen.
func TestPickNodeSelectorAndCapacity(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []*nodeInfo
		pod   *v1.Pod
		want  string
	}{
		{"selector picks the labelled node",
			[]*nodeInfo{ni("a", small, nil, resources{}), ni("b", small, ssd, resources{cpuMilli: 1500, pods: 5})},
			podReq("100m", "", ssd), "b"},
		{"selector with two keys needs both",
			[]*nodeInfo{ni("a", small, ssd, resources{}), ni("b", small, map[string]string{"disk": "ssd", "zone": "z1"}, resources{pods: 9})},
			podReq("", "", map[string]string{"disk": "ssd", "zone": "z1"}), "b"},
		{"cpu does not fit on the emptier node",
			[]*nodeInfo{ni("a", map[string]string{"cpu": "1"}, nil, resources{}), ni("b", small, nil, resources{cpuMilli: 500, pods: 3})},
			podReq("1500m", "", nil), "b"},
		{"memory exactly fills a node",
			[]*nodeInfo{ni("a", small, nil, resources{memory: 3 << 30})},
			podReq("", "1Gi", nil), "a"},
		{"pod slots full",
			[]*nodeInfo{ni("a", map[string]string{"pods": "2"}, nil, resources{pods: 2}), ni("b", small, nil, resources{pods: 9})},
			podReq("", "", nil), "b"},
		{"limits stand in for requests",
			[]*nodeInfo{ni("a", map[string]string{"cpu": "1"}, nil, resources{}), ni("b", small, nil, resources{pods: 5})},
			&v1.Pod{Spec: &v1.PodSpec{Containers: []*v1.Container{{Resources: &v1.ResourceRequirements{Limits: map[string]string{"cpu": "2"}}}}}}, "b"},
		{"no capacity published means unlimited",
			[]*nodeInfo{ni("a", nil, nil, resources{cpuMilli: 1 << 40, pods: 1000})},
			podReq("64", "1Ti", nil), "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := pick(tc.nodes, tc.pod, podRequests(tc.pod))
			if got == nil || got.node.GetMetadata().GetName() != tc.want {
				t.Errorf("picked %v (%s), want %s", got, why, tc.want)
			}
		})
	}
}

// TestPickLeastLoaded (SPEC S1): among fitting nodes the least loaded wins,
// load being the fullest of cpu, memory and pod slots after placing the pod;
// ties go to the node with fewer pods, then to the first (sorted by name).
func TestPickLeastLoaded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []*nodeInfo
		pod   *v1.Pod
		want  string
	}{
		{"fewer pods", []*nodeInfo{ni("a", small, nil, resources{pods: 3}), ni("b", small, nil, resources{pods: 1})}, podReq("", "", nil), "b"},
		{"cpu dominates pods", []*nodeInfo{ni("a", small, nil, resources{cpuMilli: 1800, pods: 1}), ni("b", small, nil, resources{pods: 4})}, podReq("100m", "", nil), "b"},
		{"memory dominates", []*nodeInfo{ni("a", small, nil, resources{memory: 3 << 30}), ni("b", small, nil, resources{cpuMilli: 1000})}, podReq("", "", nil), "b"},
		{"relative to size", []*nodeInfo{ni("big", map[string]string{"cpu": "16"}, nil, resources{cpuMilli: 4000}), ni("small", map[string]string{"cpu": "2"}, nil, resources{cpuMilli: 1000})}, podReq("500m", "", nil), "big"},
		{"tie on load: fewer pods", []*nodeInfo{ni("a", map[string]string{"cpu": "4"}, nil, resources{cpuMilli: 2000, pods: 4}), ni("b", map[string]string{"cpu": "4"}, nil, resources{cpuMilli: 2000, pods: 1})}, podReq("", "", nil), "b"},
		{"full tie: first", []*nodeInfo{ni("a", small, nil, resources{}), ni("b", small, nil, resources{})}, podReq("", "", nil), "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := pick(tc.nodes, tc.pod, podRequests(tc.pod))
			if got == nil || got.node.GetMetadata().GetName() != tc.want {
				t.Errorf("picked %v (%s), want %s", got, why, tc.want)
			}
		})
	}
}

// TestPickUnschedulableReason (SPEC S1): a pod that fits nowhere gets the
// reason describe shows, counting nodes by why they were rejected.
func TestPickUnschedulableReason(t *testing.T) {
	full := resources{cpuMilli: 2000}
	for _, tc := range []struct {
		name  string
		nodes []*nodeInfo
		pod   *v1.Pod
		want  string
	}{
		{"no nodes", nil, podReq("", "", nil), "0/0 nodes are available."},
		{"selector", []*nodeInfo{ni("a", small, nil, resources{}), ni("b", small, nil, resources{})}, podReq("", "", ssd),
			"0/2 nodes are available: 2 node(s) didn't match Pod's node selector."},
		{"resources", []*nodeInfo{ni("a", small, nil, full), ni("b", small, nil, full), ni("c", small, nil, full)}, podReq("1", "", nil),
			"0/3 nodes are available: 3 node(s) had insufficient resources."},
		{"both", []*nodeInfo{ni("a", small, nil, resources{}), ni("b", small, ssd, full)}, podReq("1", "", ssd),
			"0/2 nodes are available: 1 node(s) didn't match Pod's node selector, 1 node(s) had insufficient resources."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := pick(tc.nodes, tc.pod, podRequests(tc.pod))
			if got != nil || why != tc.want {
				t.Errorf("picked %v, %q; want nil, %q", got, why, tc.want)
			}
		})
	}
}

// TestSchedulerBindsBatchedOnlyToLiveUncordonedNodes (SPEC S1, N2, N5) runs
// the scheduler on a real etcd: 150 pending pods on a live node, a cordoned
// live node, and a node whose liveness key is gone. Every pod is bound to
// the live node (capacity 200 pods), with its assignment, in at most
// ceil(150/bindBatch) transactions; a pod that does not fit stays Pending
// with PodScheduled=False and the reason.
func TestSchedulerBindsBatchedOnlyToLiveUncordonedNodes(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	mkNode := func(name string, cordoned, alive bool) {
		n := &v1.Node{ApiVersion: "v1", Kind: "Node", Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.NodeSpec{Unschedulable: cordoned},
			Status: &v1.NodeStatus{Allocatable: map[string]string{"cpu": "4", "pods": "200"}}}
		if _, err := st.Nodes().Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		if alive {
			if err := st.PutHeartbeat(ctx, store.Heartbeat{Node: name, LeaseID: int64(lease.ID)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mkNode("live", false, true)
	mkNode("cordoned", true, true)
	mkNode("dead", false, false)
	const n = 150
	for i := 0; i < n; i += 50 {
		tx := st.Txn()
		for j := i; j < i+50; j++ {
			tx.Create(&v1.Pod{ApiVersion: "v1", Kind: "Pod",
				Metadata: &v1.ObjectMeta{Name: fmt.Sprintf("p%03d", j), Namespace: "default", Uid: fmt.Sprint("u", j), CreationTimestamp: timestamppb.Now()},
				Spec:     &v1.PodSpec{Containers: []*v1.Container{{Name: "c", Resources: &v1.ResourceRequirements{Requests: map[string]string{"cpu": "10m"}}}}},
				Status:   &v1.PodStatus{Phase: "Pending"}})
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	huge := &v1.Pod{ApiVersion: "v1", Kind: "Pod",
		Metadata: &v1.ObjectMeta{Name: "huge", Namespace: "default", Uid: "uhuge", CreationTimestamp: timestamppb.Now()},
		Spec:     &v1.PodSpec{Containers: []*v1.Container{{Name: "c", Resources: &v1.ResourceRequirements{Requests: map[string]string{"cpu": "8"}}}}},
		Status:   &v1.PodStatus{Phase: "Pending"}}
	if _, err := st.Pods().Create(ctx, huge); err != nil {
		t.Fatal(err)
	}

	lg := zaptest.NewLogger(t)
	c := cache.New(st, lg)
	s := New(st, c, clock.RealClock{}, lg)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	go func() { defer wg.Done(); s.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	var pods []*v1.Pod
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pods, _, err = st.Pods().List(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		bound, hugeMarked := 0, false
		for _, p := range pods {
			if p.GetSpec().GetNodeName() != "" {
				bound++
			}
			// A pass writes its bindings first and then the conditions of
			// the pods it could not place: wait for both.
			if p.GetMetadata().GetName() == "huge" && len(p.GetStatus().GetConditions()) > 0 {
				hugeMarked = true
			}
		}
		if bound == n && hugeMarked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods bound", bound, n)
		}
	}
	revs := map[string]bool{}
	for _, p := range pods {
		name := p.GetMetadata().GetName()
		if name == "huge" {
			cond := p.GetStatus().GetConditions()
			if p.GetSpec().GetNodeName() != "" || len(cond) != 1 || cond[0].GetStatus() != "False" || cond[0].GetReason() != "Unschedulable" ||
				cond[0].GetMessage() != "0/1 nodes are available: 1 node(s) had insufficient resources." {
				t.Errorf("huge: node %q, conditions %v", p.GetSpec().GetNodeName(), cond)
			}
			continue
		}
		if node := p.GetSpec().GetNodeName(); node != "live" {
			t.Errorf("pod %s bound to %q, want live", name, node)
		}
		if _, err := st.Assignments("live").Get(ctx, "default", name); err != nil {
			t.Errorf("pod %s: assignment: %v", name, err)
		}
		revs[p.GetMetadata().GetResourceVersion()] = true
	}
	want := (n + bindBatch - 1) / bindBatch
	t.Logf("%d pods bound in %d transactions (batch %d)", n, len(revs), bindBatch)
	if len(revs) > want {
		t.Errorf("%d pods bound in %d transactions, want at most %d", n, len(revs), want)
	}
	for _, node := range []string{"cordoned", "dead"} {
		resp, err := cli.Get(ctx, store.AssignmentPrefix(node), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || resp.Count != 0 {
			t.Errorf("%s has %d assignments (%v)", node, resp.Count, err)
		}
	}
}
