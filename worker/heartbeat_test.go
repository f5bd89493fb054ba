package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestRenewBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 200 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, 1600 * time.Millisecond},
		{5, 3200 * time.Millisecond},
		{6, 6400 * time.Millisecond},
		{7, 7 * time.Second},
		{8, 7 * time.Second},
		{1000, 7 * time.Second},
	} {
		if got := renewBackoff(tc.failures); got != tc.want {
			t.Errorf("renewBackoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestRestartBackoff(t *testing.T) {
	for _, tc := range []struct {
		restart int
		want    time.Duration
	}{
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{3, 40 * time.Second},
		{5, 160 * time.Second},
		{6, 5 * time.Minute},
		{60, 5 * time.Minute},
	} {
		if got := restartBackoff(tc.restart); got != tc.want {
			t.Errorf("restartBackoff(%d) = %v, want %v", tc.restart, got, tc.want)
		}
	}
}

func TestFenceMargin(t *testing.T) {
	if got := FenceMargin(40 * time.Second); got != 10*time.Second {
		t.Fatalf("FenceMargin(40s) = %v", got)
	}
}

// fakeLeaser grants lease 1 and fails the renewals it is told to fail,
// reporting the (fake) time of each renewal.
type fakeLeaser struct {
	clock *clocktesting.FakeClock
	mu    sync.Mutex
	fails int
	calls chan time.Time
}

func (f *fakeLeaser) Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error) {
	return &clientv3.LeaseGrantResponse{ID: 1, TTL: ttl}, nil
}

func (f *fakeLeaser) KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error) {
	f.calls <- f.clock.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("etcd unreachable")
	}
	return &clientv3.LeaseKeepAliveResponse{ID: id, TTL: 40}, nil
}

func newTestHeartbeat(t *testing.T, fc *clocktesting.FakeClock, l leaser, registers *int) *heartbeat {
	var mu sync.Mutex
	return &heartbeat{
		lg:       zaptest.NewLogger(t),
		clock:    fc,
		interval: 10 * time.Second,
		ttl:      40 * time.Second,
		leases:   l,
		register: func(context.Context, clientv3.LeaseID) error {
			mu.Lock()
			*registers++
			mu.Unlock()
			return nil
		},
		arm:  func(context.Context, time.Duration) error { return nil },
		sess: newSession(),
		kick: make(chan struct{}, 1),
	}
}

// waitFor polls cond: the goroutine under test runs on its own.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHeartbeatLoopBackoff steps a fake clock through a run of failed
// renewals: every 10 s while they succeed, then 200 ms, 400 ms ... 7 s
// after failures (SPEC N1), and a renewal after a fence registers again.
func TestHeartbeatLoopBackoff(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fc := clocktesting.NewFakeClock(t0)
	l := &fakeLeaser{clock: fc, fails: 8, calls: make(chan time.Time, 1)}
	registers := 0
	h := newTestHeartbeat(t, fc, l, &registers)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	// Registration at t0, the first renewal 10 s later, then eight
	// failures and their retries, the ninth call succeeds.
	offsets := []time.Duration{10 * time.Second}
	at := offsets[0]
	for _, b := range []time.Duration{200, 400, 800, 1600, 3200, 6400, 7000, 7000} {
		at += b * time.Millisecond
		offsets = append(offsets, at)
	}
	offsets = append(offsets, at+10*time.Second) // back to the interval
	for i, off := range offsets {
		waitFor(t, "the loop to wait", func() bool { return fc.Waiters() == 1 })
		fc.SetTime(t0.Add(off - time.Millisecond))
		if fc.Waiters() != 1 {
			t.Fatalf("call %d fired before %v", i, off)
		}
		if i == len(offsets)-2 {
			// Fenced meanwhile (by the watchdog in real life): the
			// successful renewal must register again.
			h.fence("test")
		}
		fc.SetTime(t0.Add(off))
		select {
		case got := <-l.calls:
			if !got.Equal(t0.Add(off)) {
				t.Fatalf("call %d at %v, want %v", i, got.Sub(t0), off)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d did not happen at %v", i, off)
		}
	}
	waitFor(t, "registered again", func() bool { return h.sess.isActive() })
	st := h.status()
	if registers != 2 || st.Registrations != 2 || st.Failures != 8 || st.Fenced || st.Fences != 1 {
		t.Fatalf("registers %d, status %+v", registers, st)
	}
	if want := t0.Add(offsets[len(offsets)-1]); !st.LastRenewal.Equal(want) {
		t.Fatalf("last renewal %v, want %v", st.LastRenewal.Sub(t0), want.Sub(t0))
	}
}

// TestWatchdogFencesAtTheDeadline: with no renewal the watchdog fences at
// the last success + TTL - margin, not before; a renewal moves the deadline.
func TestWatchdogFencesAtTheDeadline(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fc := clocktesting.NewFakeClock(t0)
	registers := 0
	h := newTestHeartbeat(t, fc, &fakeLeaser{clock: fc, calls: make(chan time.Time, 100)}, &registers)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.watchdog(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	h.succeeded(ctx, 1, t0) // deadline t0 + 30 s
	waitFor(t, "the watchdog to wait", func() bool { return fc.Waiters() == 1 })
	fc.Step(20 * time.Second)
	h.succeeded(ctx, 1, fc.Now()) // deadline t0 + 50 s
	// The old deadline passes; whether the watchdog has re-armed already
	// or not, it must not fence.
	fc.SetTime(t0.Add(30 * time.Second))
	waitFor(t, "the watchdog to re-arm", func() bool { return fc.Waiters() == 1 })
	fc.SetTime(t0.Add(50*time.Second - time.Millisecond))
	waitFor(t, "the watchdog to wait", func() bool { return fc.Waiters() == 1 })
	if !h.sess.isActive() {
		t.Fatal("fenced before the deadline")
	}
	fc.SetTime(t0.Add(50 * time.Second))
	waitFor(t, "fence", func() bool { return !h.sess.isActive() })
	if st := h.status(); !st.Fenced || st.Fences != 1 {
		t.Fatalf("status %+v", st)
	}
}
