package event

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-dev/drover/controller/queue"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func bigJob() *v1.Job {
	return &v1.Job{Metadata: &v1.ObjectMeta{Name: "big", Namespace: "default", Uid: "uid-big"}}
}

func events(t *testing.T, st *store.Store) []*v1.Event {
	t.Helper()
	evs, _, err := st.Events().List(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestRepeatingReconcileErrorBecomesWarningEvent runs queue.Run with a
// reconciler that always fails, the way a Job whose pods cannot fit one etcd
// transaction does ("trying to send message larger than max"), on a fake
// clock that the test steps from one retry to the next (issue 13 #4). The
// third failure, 60 s after the first, records one Warning event
// ReconcileError on the Job with the error, cut to 1 KiB, and an Error log
// line; 19 more failures within the next 10 minutes record none; the first
// one 10 minutes later records the second.
func TestRepeatingReconcileErrorBecomesWarningEvent(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	clk := clocktesting.NewFakeClock(t0)
	core, logs := observer.New(zapcore.ErrorLevel)
	lg := zap.New(core).Named("job")
	rep := NewRepeats(st, lg, clk, "job-controller", func(key string) *v1.ObjectReference {
		if key != "default/big" {
			return nil
		}
		return RefTo(bigJob())
	})

	q := queue.New(clk)
	q.MaxDelay = 30 * time.Second
	calls := make(chan struct{})
	tooBig := errors.New("job default/big: rpc error: code = ResourceExhausted desc = trying to send message larger than max (4194304 vs. 2097152)" + strings.Repeat(" pod spec …", 200))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		queue.Run(ctx, q, 1, lg, func(ctx context.Context, key string) (queue.Result, error) {
			select {
			case calls <- struct{}{}:
			case <-ctx.Done():
			}
			return queue.Result{}, tooBig
		}, queue.WithFailureReporter(rep))
	}()
	defer func() { cancel(); <-done }()

	// call waits for the next reconcile, then for its retry to be armed.
	// Stepping the clock by MaxDelay makes the retry due.
	call := func(n int) {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(30 * time.Second):
			t.Fatalf("reconcile %d never came", n)
		}
	}
	step := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !clk.HasWaiters() {
			if time.Now().After(deadline) {
				t.Fatal("retry never armed")
			}
			time.Sleep(time.Millisecond)
		}
		clk.Step(30 * time.Second)
	}
	warnings := func() []*v1.Event {
		var out []*v1.Event
		for _, e := range events(t, st) {
			if e.GetReason() == ReasonReconcileError {
				out = append(out, e)
			}
		}
		return out
	}

	q.Add("default/big")
	call(1) // t0
	step()
	call(2) // t0+30s: twice in a row, not yet
	step()
	call(3) // t0+60s: three times over 60 s: an event
	step()
	call(4) // its event was written before this reconcile started
	evs := warnings()
	if len(evs) != 1 {
		t.Fatalf("%d ReconcileError events after 3 failures over 60 s, want 1: %v", len(evs), evs)
	}
	e := evs[0]
	if e.GetType() != "Warning" || e.GetSource() != "job-controller" ||
		e.GetInvolvedObject().GetKind() != "Job" || e.GetInvolvedObject().GetName() != "big" || e.GetInvolvedObject().GetUid() != "uid-big" {
		t.Errorf("event %v: want a Warning from job-controller about Job big", e)
	}
	if !strings.Contains(e.GetMessage(), "trying to send message larger than max") || len(e.GetMessage()) > maxMessage+100 {
		t.Errorf("event message (%d bytes) %q: want the error, cut to about %d bytes", len(e.GetMessage()), e.GetMessage(), maxMessage)
	}
	if n := len(logs.FilterMessage("reconcile keeps failing").All()); n != 1 {
		t.Errorf("%d %q log lines, want 1", n, "reconcile keeps failing")
	}

	for n := 5; n <= 22; n++ { // up to t0+630s: less than 10 minutes after the event
		step()
		call(n)
	}
	if evs := warnings(); len(evs) != 1 {
		t.Fatalf("%d ReconcileError events within 10 minutes, want 1 (no flooding)", len(evs))
	}
	step()
	call(23) // t0+660s: 10 minutes after the first event
	step()
	call(24)
	if evs := warnings(); len(evs) != 2 {
		t.Fatalf("%d ReconcileError events 10 minutes after the first, want 2", len(evs))
	}
}

// TestRepeatsRule: failures that stop within Persist make no event however
// many they are, a success starts the count again, and a key whose object is
// gone gets none (issue 13 #4).
func TestRepeatsRule(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	clk := clocktesting.NewFakeClock(t0)
	gone := false
	rep := NewRepeats(st, zap.NewNop(), clk, "job-controller", func(string) *v1.ObjectReference {
		if gone {
			return nil
		}
		return RefTo(bigJob())
	})
	ctx := context.Background()
	err := errors.New("etcdserver: request timed out")

	// A blip: 10 failures within 20 s.
	for n := 1; n <= 10; n++ {
		rep.Failed(ctx, "default/big", err, n)
		clk.Step(2 * time.Second)
	}
	rep.Recovered("default/big")
	// Two failures 40 s apart, then a success, then two more: never 3 in a row.
	rep.Failed(ctx, "default/big", err, 1)
	clk.Step(40 * time.Second)
	rep.Failed(ctx, "default/big", err, 2)
	rep.Recovered("default/big")
	rep.Failed(ctx, "default/big", err, 1)
	clk.Step(40 * time.Second)
	rep.Failed(ctx, "default/big", err, 2)
	if evs := events(t, st); len(evs) != 0 {
		t.Fatalf("events %v, want none for errors that did not persist", evs)
	}
	// The object is gone: nothing to record on.
	gone = true
	rep.Failed(ctx, "default/big", err, 3)
	if evs := events(t, st); len(evs) != 0 {
		t.Fatalf("events %v, want none for a deleted object", evs)
	}
	rep.Recovered("default/big")
	gone = false
	// Failing 3 times over 30 s: an event.
	rep.Failed(ctx, "default/big", err, 1)
	clk.Step(15 * time.Second)
	rep.Failed(ctx, "default/big", err, 2)
	clk.Step(15 * time.Second)
	rep.Failed(ctx, "default/big", err, 3)
	if evs := events(t, st); len(evs) != 1 || !strings.HasPrefix(evs[0].GetMessage(), err.Error()) {
		t.Fatalf("events %v, want one with the error", evs)
	}
}

func TestRefToClusterScopedEventInDefaultNamespace(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ref := RefTo(&v1.Node{Metadata: &v1.ObjectMeta{Name: "n1", Uid: "uid-n1"}})
	if ref.GetKind() != "Node" || ref.GetApiVersion() != "v1" || ref.GetName() != "n1" {
		t.Fatalf("ref %v", ref)
	}
	if RefTo((*v1.Job)(nil)) != nil {
		t.Fatal("a nil Job has a reference")
	}
	Record(context.Background(), st, zap.NewNop(), ref, "node-controller", []Event{{Type: "Warning", Reason: ReasonReconcileError, Message: "x"}}, t0)
	if evs := events(t, st); len(evs) != 1 || evs[0].GetInvolvedObject().GetName() != "n1" {
		t.Fatalf("events in default %v, want the Node's", evs)
	}
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("é", 1000) // 2000 bytes
	got := truncate(s, 1024)
	if len(got) > 1024 || !strings.HasSuffix(got, "(truncated)") || !strings.HasPrefix(got, "éé") {
		t.Fatalf("truncate: %d bytes %q", len(got), got[len(got)-20:])
	}
	for i, r := range strings.TrimSuffix(got, " …(truncated)") {
		if r != 'é' {
			t.Fatalf("rune %d is %q: cut inside a rune", i, r)
		}
	}
	if truncate("short", 1024) != "short" {
		t.Fatal("short message changed")
	}
}
