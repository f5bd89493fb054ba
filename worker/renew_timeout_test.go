package worker

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	clocktesting "k8s.io/utils/clock/testing"
)

// budgetLeaser answers every call at once and records how much time each
// renewal's context allowed it.
type budgetLeaser struct{ budgets chan time.Duration }

func (b *budgetLeaser) Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error) {
	return &clientv3.LeaseGrantResponse{ID: 1, TTL: ttl}, nil
}

func (b *budgetLeaser) KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error) {
	dl, _ := ctx.Deadline()
	b.budgets <- time.Until(dl)
	return &clientv3.LeaseKeepAliveResponse{ID: id, TTL: 40}, nil
}

// TestRenewalMayTakeHalfTheTimeLeft: a renewal is not cut at the 1 s call
// timeout of a 1 s heartbeat while the fence deadline is far: it may take
// half the time left before it (SPEC W4, N1; issue 13 #12). On a starved
// machine whose etcd answers in 1-2 s, 1 s cuts failed every renewal and
// fenced healthy nodes.
func TestRenewalMayTakeHalfTheTimeLeft(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name            string
		interval, ttl   time.Duration
		atLeast, atMost time.Duration
	}{
		// Registered at t0: deadline t0+30 s; the first renewal at
		// t0+interval has 30 s - interval left.
		{"1 s heartbeat, 40 s lease", time.Second, 40 * time.Second, 14 * time.Second, 14500 * time.Millisecond},
		{"defaults", 10 * time.Second, 40 * time.Second, 9 * time.Second, 10 * time.Second},
		// Short leases keep the call timeout: the time left is short.
		{"1 s heartbeat, 4 s lease", time.Second, 4 * time.Second, 900 * time.Millisecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := clocktesting.NewFakeClock(t0)
			l := &budgetLeaser{budgets: make(chan time.Duration, 1)}
			registers := 0
			h := newTestHeartbeat(t, fc, l, &registers)
			h.interval, h.ttl = tc.interval, tc.ttl
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- h.run(ctx) }()
			defer func() { cancel(); <-done }()
			waitFor(t, "registered, waiting for the first renewal", func() bool { return fc.Waiters() == 1 && h.sess.isActive() })
			fc.Step(tc.interval)
			select {
			case b := <-l.budgets:
				if b < tc.atLeast || b > tc.atMost {
					t.Errorf("a renewal may take %v, want %v-%v", b, tc.atLeast, tc.atMost)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no renewal")
			}
		})
	}
}
