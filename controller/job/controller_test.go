package job

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// TestControllerAdoptsOrphans runs the controller shell on a real etcd (SPEC
// J11, J14): a Job with a manual selector adopts the two orphans it matches;
// the running one keeps the tracking finalizer, the succeeded one is
// counted in the same transaction that adopts it (one write per pod: etcd
// refuses a transaction that writes a key twice), and an orphan the
// selector does not match is left alone.
func TestControllerAdoptsOrphans(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx, cancel := context.WithCancel(context.Background())
	ca := cache.New(st, zaptest.NewLogger(t))
	jc := New(st, ca, clocktesting.NewFakeClock(t0), zaptest.NewLogger(t))
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	sel := map[string]string{"app": "keep"}
	orphan := func(name, phase string, labels map[string]string) *v1.Pod {
		return &v1.Pod{Metadata: &v1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, Labels: labels},
			Spec: &v1.PodSpec{NodeName: "n1"}, Status: &v1.PodStatus{Phase: phase}}
	}
	tx := st.Txn().
		Create(orphan("running", PhaseRunning, sel)).
		Create(orphan("done", PhaseSucceeded, sel)).
		Create(orphan("stranger", PhaseRunning, map[string]string{"app": "other"}))
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	job := newJob(completions(3), parallelism(1), manualSelector(sel))
	job.Metadata.Uid = "new-uid"
	job.Status = nil
	if _, err := st.Jobs().Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() { defer wg.Done(); _ = ca.Run(ctx) }()
	go func() { defer wg.Done(); jc.Run(ctx) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := st.Jobs().Get(ctx, "default", "j")
		if err != nil {
			t.Fatal(err)
		}
		if j.GetStatus().GetSucceeded() == 1 && j.GetStatus().GetActive() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job status %v", j.GetStatus())
		}
		time.Sleep(20 * time.Millisecond)
	}
	get := func(name string) *v1.Pod {
		p, err := st.Pods().Get(ctx, "default", name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, wantFinalizer := range map[string]bool{"running": true, "done": false} {
		p := get(name)
		if ref := controllerRef(p); ref == nil || ref.GetUid() != "new-uid" {
			t.Errorf("%s: owners %v", name, p.Metadata.OwnerReferences)
		}
		if hasFinalizer(p, FinalizerTracking) != wantFinalizer {
			t.Errorf("%s: finalizers %v", name, p.Metadata.Finalizers)
		}
	}
	if p := get("stranger"); len(p.Metadata.OwnerReferences) != 0 {
		t.Errorf("stranger adopted: %v", p.Metadata.OwnerReferences)
	}
	// The running orphan fills parallelism 1: no pod was created.
	pods, _, err := st.Pods().List(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 3 {
		t.Errorf("%d pods, want the 3 orphans and no new one", len(pods))
	}
}
