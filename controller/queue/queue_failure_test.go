package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	clocktesting "k8s.io/utils/clock/testing"
)

// recordingObserver records the errors Run reports.
type recordingObserver struct {
	mu   sync.Mutex
	errs []error
}

var _ Observer = (*recordingObserver)(nil)

func (o *recordingObserver) QueueStarted(string, *Queue) {}
func (o *recordingObserver) Reconciled(_ string, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs = append(o.errs, err)
}

func panicky() { panic("boom") }

// A failed reconcile is logged at Error with its key and a reconcile id, a
// panic keeps its stack, and the Observer gets a *PanicError for it (issue
// 13 #9).
func TestFailuresLoggedAtErrorWithKeyAndStack(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	lg := zap.New(core).Named("controller.test")
	q := New(clocktesting.NewFakeClock(time.Unix(0, 0))) // retries wait on a clock that never moves
	obs := &recordingObserver{}
	ctx, cancel := context.WithCancel(WithObserver(context.Background(), obs))
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, q, 2, lg, func(ctx context.Context, key string) (Result, error) {
			if key == "ns/panics" {
				panicky()
			}
			return Result{}, errors.New("etcdserver: request is too large")
		})
	}()
	q.Add("ns/fails")
	q.Add("ns/panics")
	deadline := time.Now().Add(30 * time.Second)
	for logs.Len() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d Error log lines, want 2: %v", logs.Len(), logs.All())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	byKey := map[string]observer.LoggedEntry{}
	for _, e := range logs.All() {
		byKey[e.ContextMap()["key"].(string)] = e
	}
	fail, ok := byKey["ns/fails"]
	if !ok || fail.Message != "reconcile failed" || fail.Level != zapcore.ErrorLevel {
		t.Fatalf("no Error line %q for ns/fails: %v", "reconcile failed", logs.All())
	}
	if m := fail.ContextMap(); m["reconcile_id"] == "" || m["error"] != "etcdserver: request is too large" || m["failures"] != int64(1) {
		t.Errorf("failure line fields %v, want reconcile_id, error and failures=1", m)
	}
	p, ok := byKey["ns/panics"]
	if !ok || p.Message != "reconcile panicked" || p.Level != zapcore.ErrorLevel {
		t.Fatalf("no Error line %q for ns/panics: %v", "reconcile panicked", logs.All())
	}
	m := p.ContextMap()
	if m["reconcile_id"] == "" || m["reconcile_id"] == fail.ContextMap()["reconcile_id"] {
		t.Errorf("panic line reconcile_id %v: want one of its own", m["reconcile_id"])
	}
	if m["panic"] != "boom" || !strings.Contains(m["stack"].(string), "queue.panicky") {
		t.Errorf("panic line %v: want panic=boom and a stack naming queue.panicky", m)
	}

	obs.mu.Lock()
	defer obs.mu.Unlock()
	var panics int
	for _, err := range obs.errs {
		var pe *PanicError
		if errors.As(err, &pe) {
			panics++
			if !strings.Contains(string(pe.Stack), "queue.panicky") {
				t.Errorf("PanicError stack lacks the panicking function:\n%s", pe.Stack)
			}
		}
	}
	if panics != 1 || len(obs.errs) != 2 {
		t.Errorf("observer got %v, want 2 errors, 1 of them a *PanicError", obs.errs)
	}
}
