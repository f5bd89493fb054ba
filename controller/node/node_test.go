package node

import (
	"context"
	"errors"
	"strings"
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

// fixture is a real embedded etcd with nodes and pods written as a worker
// and the scheduler would write them.
type fixture struct {
	t   *testing.T
	cli *clientv3.Client
	st  *store.Store
}

func newFixture(t *testing.T) *fixture {
	cli, _ := etcdtest.Start(t)
	return &fixture{t: t, cli: cli, st: store.New(cli)}
}

// node registers a node that claims Ready=True (as its worker writes it)
// and, when ttl > 0, its liveness key on a lease of ttl seconds that nobody
// renews.
func (f *fixture) node(name string, ttl int64) {
	f.t.Helper()
	ctx := context.Background()
	now := timestamppb.Now()
	n := &v1.Node{ApiVersion: "v1", Kind: "Node", Metadata: &v1.ObjectMeta{Name: name, Uid: "uid-" + name, CreationTimestamp: now}, Spec: &v1.NodeSpec{},
		Status: &v1.NodeStatus{Conditions: []*v1.NodeCondition{{Type: "Ready", Status: "True", Reason: "WorkerRegistered", LastTransitionTime: now}}}}
	if _, err := f.st.Nodes().Create(ctx, n); err != nil {
		f.t.Fatal(err)
	}
	if ttl <= 0 {
		return
	}
	lease, err := f.cli.Grant(ctx, ttl)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.PutHeartbeat(ctx, store.Heartbeat{Node: name, LeaseID: int64(lease.ID), RenewIntervalSeconds: 1}); err != nil {
		f.t.Fatal(err)
	}
}

// pod writes a pod bound to node in phase, with its assignment.
func (f *fixture) pod(name, node, phase string) {
	f.t.Helper()
	p := &v1.Pod{ApiVersion: "v1", Kind: "Pod",
		Metadata: &v1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: timestamppb.Now()},
		Spec:     &v1.PodSpec{NodeName: node, Containers: []*v1.Container{{Name: "c", Image: "x", Command: []string{"true"}}}},
		Status:   &v1.PodStatus{Phase: phase}}
	if _, err := f.st.Txn().Create(p).PutAssignment(p).Commit(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// run starts the leader's cache and the node controller, as a new leader does.
func (f *fixture) run() {
	f.t.Helper()
	lg := zaptest.NewLogger(f.t)
	c := cache.New(f.st, lg)
	nc := New(f.st, c, clock.RealClock{}, lg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	go func() { defer wg.Done(); nc.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); wg.Wait() })
}

func (f *fixture) getPod(name string) *v1.Pod {
	f.t.Helper()
	p, err := f.st.Pods().Get(context.Background(), "default", name)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) ready(name string) string {
	f.t.Helper()
	n, err := f.st.Nodes().Get(context.Background(), "", name)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() + "/" + c.GetReason()
		}
	}
	return ""
}

func (f *fixture) assigned(node, pod string) bool {
	f.t.Helper()
	_, err := f.st.Assignments(node).Get(context.Background(), "default", pod)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		f.t.Fatal(err)
	}
	return err == nil
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lostPod(p *v1.Pod) bool {
	if p.GetStatus().GetPhase() != "Failed" || p.GetStatus().GetReason() != ReasonNodeLost {
		return false
	}
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "DisruptionTarget" && c.GetStatus() == "True" && c.GetReason() == ReasonNodeLost {
			return true
		}
	}
	return false
}

// TestLeaseExpiryFailsPodsAtOnce (SPEC N2): when etcd expires a node's lease
// and deletes its liveness key, the node is NotReady and its unfinished pods
// are Failed with DisruptionTarget/NodeLost and unassigned, at once: the
// measured delay from the key's deletion to the pods' failure is logged.
// Finished pods and other nodes' pods are left alone.
func TestLeaseExpiryFailsPodsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.node("dying", 2)
	f.node("healthy", 60)
	f.pod("a", "dying", "Running")
	f.pod("b", "dying", "Pending")
	f.pod("done", "dying", "Succeeded")
	f.pod("other", "healthy", "Running")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start, err := f.cli.Get(ctx, store.HeartbeatKey("dying"))
	if err != nil || len(start.Kvs) != 1 {
		t.Fatalf("liveness key: %v", err)
	}
	// Watch for the deletion and for the pods' failure from now on.
	w := f.cli.Watch(ctx, store.Root, clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1))
	f.run()

	var expired time.Time
	failed := map[string]time.Time{}
	for resp := range w {
		for _, ev := range resp.Events {
			k := string(ev.Kv.Key)
			if k == store.HeartbeatKey("dying") && ev.Type == clientv3.EventTypeDelete {
				expired = time.Now()
			}
			if p, err := f.st.Pods().Decode(ev.Kv); err == nil && ev.Type == clientv3.EventTypePut && lostPod(p) {
				failed[p.GetMetadata().GetName()] = time.Now()
			}
		}
		if len(failed) == 2 {
			break
		}
	}
	if expired.IsZero() {
		t.Fatal("pods failed before the liveness key was deleted")
	}
	for name, at := range failed {
		t.Logf("measured: pod %s failed %v after the liveness key's deletion", name, at.Sub(expired))
	}
	for _, name := range []string{"a", "b"} {
		if p := f.getPod(name); !lostPod(p) {
			t.Errorf("pod %s: %v, want Failed with DisruptionTarget/NodeLost", name, p.GetStatus())
		}
		if f.assigned("dying", name) {
			t.Errorf("pod %s still assigned to the lost node", name)
		}
	}
	if got := f.ready("dying"); got != "False/"+ReasonNodeLost {
		t.Errorf("dying Ready %s, want False/NodeLost", got)
	}
	if p := f.getPod("done"); p.GetStatus().GetPhase() != "Succeeded" || len(p.GetStatus().GetConditions()) != 0 {
		t.Errorf("finished pod changed: %v", p.GetStatus())
	}
	if p := f.getPod("other"); p.GetStatus().GetPhase() != "Running" || !strings.HasPrefix(f.ready("healthy"), "True/") {
		t.Errorf("healthy node's pod %v, node %s", p.GetStatus(), f.ready("healthy"))
	}
}

// TestLeaderStartFindsExpiredLeases (SPEC N2): a lease that expired while no
// controller led (the node still claims Ready=True, its liveness key is
// gone) is found by the first list of a new leader; a pod bound later to
// the lost node is failed as well.
func TestLeaderStartFindsExpiredLeases(t *testing.T) {
	f := newFixture(t)
	f.node("gone", 0) // its lease expired while no leader ran
	f.node("alive", 60)
	f.pod("p1", "gone", "Running")
	f.pod("p2", "alive", "Running")
	f.run()
	eventually(t, "p1 failed", func() bool { return lostPod(f.getPod("p1")) })
	eventually(t, "gone NotReady", func() bool { return f.ready("gone") == "False/"+ReasonNodeLost })
	if f.assigned("gone", "p1") {
		t.Error("p1 still assigned")
	}
	f.pod("late", "gone", "Pending")
	eventually(t, "a pod bound to the lost node failed", func() bool { return lostPod(f.getPod("late")) })
	if p := f.getPod("p2"); p.GetStatus().GetPhase() != "Running" {
		t.Errorf("p2 on a live node is %s", p.GetStatus().GetPhase())
	}
	if got := f.ready("alive"); !strings.HasPrefix(got, "True/") {
		t.Errorf("alive Ready %s", got)
	}
}
