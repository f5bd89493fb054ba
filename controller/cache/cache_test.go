package cache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// TestJobRevisionImpliesItsPods is the property the Job controller's guarded
// writes rely on: once the cache has applied the revision of a transaction
// that wrote a Job and its pods, all of them are visible, indexed by owner
// and by node, and handlers saw the changes in revision order.
func TestJobRevisionImpliesItsPods(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := cache.New(st, zaptest.NewLogger(t))
	var mu sync.Mutex
	var seen []string
	ca.AddHandler(func(ch cache.Change) {
		mu.Lock()
		defer mu.Unlock()
		if ch.New != nil {
			seen = append(seen, ch.New.GetMetadata().GetName())
		}
	})
	go func() { _ = ca.Run(ctx) }()
	job := &v1.Job{Metadata: &v1.ObjectMeta{Name: "j", Namespace: "default", Uid: "u1"}}
	if _, err := st.Jobs().Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	tx := st.Txn().Update(job)
	for _, n := range []string{"p1", "p2"} {
		tx.Create(&v1.Pod{Metadata: &v1.ObjectMeta{Name: n, Namespace: "default", Labels: map[string]string{cache.LabelControllerUID: "u1"}},
			Spec: &v1.PodSpec{NodeName: "n1"}})
	}
	tx.Create(&v1.Pod{Metadata: &v1.ObjectMeta{Name: "p3", Namespace: "default", Labels: map[string]string{cache.LabelControllerUID: "u1"}}, Spec: &v1.PodSpec{}})
	rev, err := tx.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := ca.WaitForRevision(wctx, rev); err != nil {
		t.Fatal(err)
	}
	if got := ca.Job("default/j"); got == nil || got.Metadata.ResourceVersion != job.Metadata.ResourceVersion {
		t.Fatalf("job at %v, want rv %s", got, job.Metadata.ResourceVersion)
	}
	if n := len(ca.PodsOwnedBy("u1")); n != 3 {
		t.Fatalf("%d pods owned, want 3", n)
	}
	if n := len(ca.PodsOnNode("n1")); n != 2 {
		t.Fatalf("%d pods on n1, want 2", n)
	}
	if n := len(ca.UnboundPods()); n != 1 {
		t.Fatalf("%d unbound pods, want 1", n)
	}
	if ca.JobByUID("u1") == nil {
		t.Fatal("job not indexed by uid")
	}
	// Handlers are told after the revision is applied (WaitForRevision
	// may return first): wait for the five changes.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= 5 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// The create of j, then the transaction: j's update, then its pods.
	if len(seen) != 5 || seen[0] != "j" || seen[1] != "j" || seen[2] != "p1" {
		t.Fatalf("handler saw %v, want [j j p1 p2 p3]", seen)
	}
	// Liveness keys appear as heartbeat pseudo-objects.
	if _, err := cli.Put(ctx, store.HeartbeatKey("n1"), "{}"); err != nil {
		t.Fatal(err)
	}
	r, _ := cli.Get(ctx, "x")
	_ = ca.WaitForRevision(wctx, r.Header.Revision)
	if !ca.Alive("n1") || ca.Alive("n2") {
		t.Fatal("liveness not tracked")
	}
}

// TestControllerAndOrphanIndexes: pods are indexed by their controller owner
// reference, and pods without one by namespace, and a pod moves from the
// orphan index to its new controller's when adopted (SPEC J14).
func TestControllerAndOrphanIndexes(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := cache.New(st, zaptest.NewLogger(t))
	go func() { _ = ca.Run(ctx) }()
	ctrl := func(uid string) []*v1.OwnerReference {
		return []*v1.OwnerReference{{Kind: "Job", Name: "j", Uid: uid, Controller: new(true)}}
	}
	orphan := &v1.Pod{Metadata: &v1.ObjectMeta{Name: "o", Namespace: "ns1", Labels: map[string]string{cache.LabelControllerUID: "old"}}, Spec: &v1.PodSpec{}}
	tx := st.Txn().
		Create(&v1.Pod{Metadata: &v1.ObjectMeta{Name: "a", Namespace: "ns1", OwnerReferences: ctrl("u1")}, Spec: &v1.PodSpec{}}).
		Create(orphan).
		Create(&v1.Pod{Metadata: &v1.ObjectMeta{Name: "b", Namespace: "ns2"}, Spec: &v1.PodSpec{}})
	rev, err := tx.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait := func(rev int64) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := ca.WaitForRevision(wctx, rev); err != nil {
			t.Fatal(err)
		}
	}
	wait(rev)
	if n := len(ca.PodsControlledBy("u1")); n != 1 {
		t.Fatalf("%d pods controlled by u1, want 1", n)
	}
	if o := ca.OrphanPods("ns1"); len(o) != 1 || o[0].Metadata.Name != "o" {
		t.Fatalf("orphans in ns1: %v", o)
	}
	if n := len(ca.OrphanPods("ns2")); n != 1 {
		t.Fatalf("%d orphans in ns2, want 1", n)
	}
	// Adoption by u2: no longer an orphan, controlled by u2, and still
	// found by its old label as well as by its new controller.
	orphan.Metadata.OwnerReferences = ctrl("u2")
	rev, err = st.Txn().Update(orphan).Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait(rev)
	if n := len(ca.OrphanPods("ns1")); n != 0 {
		t.Fatalf("%d orphans in ns1 after adoption, want 0", n)
	}
	if n := len(ca.PodsControlledBy("u2")); n != 1 {
		t.Fatalf("%d pods controlled by u2, want 1", n)
	}
	if n := len(ca.PodsOwnedBy("u2")); n != 1 {
		t.Fatalf("%d pods owned by u2, want 1", n)
	}
}
