package gc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/gc"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

func ownedPod(name, jobUID, node, phase string) *v1.Pod {
	return &v1.Pod{ApiVersion: "v1", Kind: "Pod",
		Metadata: &v1.ObjectMeta{Name: name, Namespace: "default", Uid: name + "-uid",
			Labels:          map[string]string{cache.LabelControllerUID: jobUID},
			OwnerReferences: []*v1.OwnerReference{{Kind: "Job", Name: "j", Uid: jobUID, Controller: proto.Bool(true)}}},
		Spec:   &v1.PodSpec{NodeName: node},
		Status: &v1.PodStatus{Phase: phase}}
}

// TestBackgroundCascade is SPEC J12: once a Job is gone, its finished and
// never-bound pods are deleted, and its running pods are stopped gracefully
// (deletionTimestamp, assignment rewritten) and deleted once terminal. An
// orphan pod (no owner) is left alone.
func TestBackgroundCascade(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := &v1.Job{Metadata: &v1.ObjectMeta{Name: "j", Namespace: "default", Uid: "job-1"}}
	if _, err := st.Jobs().Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	done := ownedPod("done", "job-1", "n1", "Succeeded")
	running := ownedPod("running", "job-1", "n1", "Running")
	pending := ownedPod("pending", "job-1", "", "Pending")
	orphan := ownedPod("orphan", "", "n1", "Running")
	orphan.Metadata.OwnerReferences = nil
	tx := st.Txn()
	for _, p := range []*v1.Pod{done, running, pending, orphan} {
		tx.Create(p)
		if p.Spec.NodeName != "" {
			tx.PutAssignment(p)
		}
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	lg := zaptest.NewLogger(t)
	ca := cache.New(st, lg)
	g := gc.New(st, ca, clock.RealClock{}, lg)
	go func() { _ = ca.Run(ctx) }()
	go g.Run(ctx)

	if err := st.Jobs().Delete(ctx, "default", "j", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "finished and unbound pods deleted, running pod marked", func() bool {
		_, e1 := st.Pods().Get(ctx, "default", "done")
		_, e2 := st.Pods().Get(ctx, "default", "pending")
		r, e3 := st.Pods().Get(ctx, "default", "running")
		return errors.Is(e1, store.ErrNotFound) && errors.Is(e2, store.ErrNotFound) && e3 == nil && r.Metadata.DeletionTimestamp != nil
	})
	a, err := st.Assignments("n1").Get(ctx, "default", "running")
	if err != nil || a.Metadata.DeletionTimestamp == nil {
		t.Fatalf("assignment of the running pod not rewritten for a graceful stop: %v %v", a, err)
	}
	// The worker reports the stopped pod; the collector removes it and its assignment.
	if _, err := st.Pods().Mutate(ctx, "default", "running", func(p *v1.Pod) error { p.Status.Phase = "Failed"; return nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stopped pod deleted", func() bool {
		_, e := st.Pods().Get(ctx, "default", "running")
		_, ea := st.Assignments("n1").Get(ctx, "default", "running")
		return errors.Is(e, store.ErrNotFound) && errors.Is(ea, store.ErrNotFound)
	})
	if _, err := st.Pods().Get(ctx, "default", "orphan"); err != nil {
		t.Fatalf("orphan pod was collected: %v", err)
	}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
