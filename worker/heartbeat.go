package worker

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/internal/metrics"
)

// Renewal retry backoff (SPEC N1): 200 ms, doubling, capped at 7 s.
const (
	renewBackoffBase = 200 * time.Millisecond
	renewBackoffMax  = 7 * time.Second
)

// renewBackoff is the wait before retry number failures (1, 2, ...) of a
// failed renewal or registration: 200 ms, 400 ms, 800 ms ... capped at 7 s.
func renewBackoff(failures int) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := renewBackoffBase
	for i := 1; i < failures; i++ {
		d *= 2
		if d >= renewBackoffMax {
			return renewBackoffMax
		}
	}
	return d
}

// FenceMargin is how long before its lease could expire a worker that has
// not renewed it kills its pods (SPEC N4): a quarter of the TTL (10 s of the
// default 40 s). The fence deadline is counted from the moment the last
// successful renewal was sent, so it falls at least FenceMargin before etcd
// can expire the lease; the margin covers killing the pods and scheduling
// delays of the worker.
func FenceMargin(ttl time.Duration) time.Duration { return ttl / 4 }

// HeartbeatStatus is what the heartbeat has observed, for logs and metrics.
type HeartbeatStatus struct {
	// LeaseID is the lease the worker holds (0 before registration).
	LeaseID int64
	// Registrations counts successful registrations (the first, and each
	// after a lost lease or a fence).
	Registrations int64
	// LastRenewal is when the last successful renewal (or registration)
	// was sent, on the worker's clock.
	LastRenewal time.Time
	// LastLatency is the round trip of the last successful renewal.
	LastLatency time.Duration
	// ConsecutiveFailures counts failed renewals since the last success.
	ConsecutiveFailures int
	// Failures counts every failed renewal or registration.
	Failures int64
	// Fences counts the times the worker fenced (killed its pods).
	Fences int64
	// Fenced is true from a fence until the next registration.
	Fenced bool
}

// leaser is the part of the etcd lease API the heartbeat uses.
type leaser interface {
	Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error)
	KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error)
}

// heartbeat keeps the worker's lease alive with one renewal every interval
// (a streamLeaser's KeepAliveOnce, not the client's automatic keep-alive,
// whose failures cannot be seen), registers the node when it has no lease,
// and fences the pods when renewals have failed for too long.
type heartbeat struct {
	lg       *zap.Logger
	clock    clock.WithTicker
	interval time.Duration
	ttl      time.Duration
	leases   leaser
	// register writes the node object and the liveness key for a lease.
	register func(ctx context.Context, lease clientv3.LeaseID) error
	// arm sets the runtime's dead-man switch.
	arm  func(ctx context.Context, killAfter time.Duration) error
	sess *session
	m    *metrics.Worker // may be nil

	mu       sync.Mutex
	st       HeartbeatStatus
	deadline time.Time // fence deadline; zero when not registered
	kick     chan struct{}
}

func newHeartbeat(w *Worker) *heartbeat {
	return &heartbeat{
		lg:       w.cfg.Logger.Named("heartbeat").With(zap.String("node", w.cfg.NodeName)),
		clock:    w.clock,
		interval: w.cfg.HeartbeatInterval,
		ttl:      w.cfg.LeaseTTL,
		leases:   newStreamLeaser(cmp.Or(w.cfg.LeaseEtcd, w.cfg.Etcd)),
		register: w.register,
		arm:      func(ctx context.Context, d time.Duration) error { return w.rt.Fence(ctx, d) },
		sess:     w.sess,
		m:        w.cfg.Metrics,
		kick:     make(chan struct{}, 1),
	}
}

func (h *heartbeat) status() HeartbeatStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

// callTimeout bounds one etcd call of the heartbeat.
func (h *heartbeat) callTimeout() time.Duration {
	return min(max(h.interval, time.Second), 5*time.Second)
}

// renewTimeout bounds one renewal: callTimeout, or half the time left
// before the fence deadline when that is longer. A renewal cut at 1 s (a
// 1 s heartbeat) on a starved machine, whose etcd answers in 1-2 s, failed
// every time and fenced a healthy node though etcd would have renewed its
// lease (SPEC W4, issue 13 #12: 20 fences of 50 hollow nodes at load 18
// with a 40 s lease); a late answer is still a renewal. Half the time left
// leaves the other half for retries, on other streams and members.
func (h *heartbeat) renewTimeout() time.Duration {
	h.mu.Lock()
	deadline := h.deadline
	h.mu.Unlock()
	return max(h.callTimeout(), deadline.Sub(h.clock.Now())/2)
}

// run renews (or obtains) the lease until ctx ends, then returns nil.
func (h *heartbeat) run(ctx context.Context) error {
	if c, ok := h.leases.(interface{ Close() }); ok {
		defer c.Close()
	}
	var lease clientv3.LeaseID
	for {
		sent := h.clock.Now()
		var err error
		if lease == 0 {
			lease, err = h.registerLease(ctx)
		} else {
			err = h.renew(ctx, lease)
			if err == nil && h.m != nil {
				// Renewals only: a registration's several writes
				// would swell the tail.
				h.m.RenewSeconds.Observe(h.clock.Since(sent).Seconds())
			}
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				// The lease expired (a partition outlived it): the
				// controller treats the node as lost, so stop the
				// pods now and register again.
				h.lg.Warn("lease lost", zap.Int64("lease_id", int64(lease)))
				h.fence("lease lost")
				lease = 0
			} else if err == nil && !h.sess.isActive() {
				// Renewed after a fence: register again so the pods
				// are reconciled.
				err = h.call(ctx, func(ctx context.Context) error { return h.register(ctx, lease) })
				if err == nil {
					h.registered()
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		if err == nil {
			h.succeeded(ctx, lease, sent)
			wait = h.interval - h.clock.Since(sent)
		} else {
			n := h.failed(err)
			wait = renewBackoff(n)
		}
		if wait > 0 {
			t := h.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C():
			}
		}
	}
}

// call runs fn with a ctx bounded by callTimeout.
func (h *heartbeat) call(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, h.callTimeout())
	defer cancel()
	return fn(ctx)
}

// registerLease grants a new lease, arms the runtime fence and registers the
// node under it. Each step has a callTimeout of its own: the registration is
// several etcd round trips, which one call's time did not cover on a slow
// etcd ("register node: store: get: context deadline exceeded", W4).
func (h *heartbeat) registerLease(ctx context.Context) (clientv3.LeaseID, error) {
	var resp *clientv3.LeaseGrantResponse
	if err := h.call(ctx, func(ctx context.Context) (err error) {
		resp, err = h.leases.Grant(ctx, int64(h.ttl/time.Second))
		return err
	}); err != nil {
		return 0, err
	}
	// Arm the dead-man switch before any pod can start under this lease.
	if err := h.call(ctx, func(ctx context.Context) error { return h.arm(ctx, h.ttl-FenceMargin(h.ttl)) }); err != nil {
		return 0, err
	}
	if err := h.call(ctx, func(ctx context.Context) error { return h.register(ctx, resp.ID) }); err != nil {
		return 0, err
	}
	h.lg.Info("registered", zap.Int64("lease_id", int64(resp.ID)), zap.Int64("ttl_seconds", resp.TTL))
	h.registered()
	return resp.ID, nil
}

func (h *heartbeat) renew(ctx context.Context, lease clientv3.LeaseID) error {
	cctx, cancel := context.WithTimeout(ctx, h.renewTimeout())
	defer cancel()
	resp, err := h.leases.KeepAliveOnce(cctx, lease)
	if err != nil {
		return err
	}
	if resp.TTL <= 0 {
		return rpctypes.ErrLeaseNotFound
	}
	return nil
}

func (h *heartbeat) registered() {
	h.mu.Lock()
	h.st.Registrations++
	h.st.Fenced = false
	h.mu.Unlock()
}

// succeeded records a renewal sent at sent, moves the fence deadline and
// re-arms the runtime's dead-man switch to match it.
func (h *heartbeat) succeeded(ctx context.Context, lease clientv3.LeaseID, sent time.Time) {
	now := h.clock.Now()
	deadline := sent.Add(h.ttl - FenceMargin(h.ttl))
	h.mu.Lock()
	h.st.LeaseID = int64(lease)
	h.st.LastRenewal = sent
	h.st.LastLatency = now.Sub(sent)
	h.st.ConsecutiveFailures = 0
	h.deadline = deadline
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
	if left := deadline.Sub(now); left > 0 {
		arm := func(ctx context.Context) error { return h.arm(ctx, left) }
		if err := h.call(ctx, arm); err != nil && ctx.Err() == nil {
			h.lg.Warn("cannot arm the runtime fence", zap.Error(err))
		}
	}
	h.sess.activate(lease)
	h.lg.Debug("lease renewed", zap.Int64("lease_id", int64(lease)), zap.Duration("latency", now.Sub(sent)))
}

// failed records a failed renewal and returns the consecutive failures.
func (h *heartbeat) failed(err error) int {
	h.mu.Lock()
	h.st.ConsecutiveFailures++
	h.st.Failures++
	n := h.st.ConsecutiveFailures
	h.mu.Unlock()
	if h.m != nil {
		h.m.RenewFailures.Inc()
	}
	h.lg.Warn("lease renewal failed", zap.Int("failures", n), zap.Duration("retry_in", renewBackoff(n)), zap.Error(err))
	return n
}

// fence stops the pods: the session's subscribers kill them.
func (h *heartbeat) fence(why string) {
	h.mu.Lock()
	h.deadline = time.Time{}
	if !h.st.Fenced {
		h.st.Fenced = true
		h.st.Fences++
		if h.m != nil {
			h.m.Fences.Inc()
		}
	}
	h.mu.Unlock()
	if h.sess.fence() {
		h.lg.Error("fenced: killing every pod", zap.String("reason", why))
	}
}

// watchdog fences the pods once the fence deadline passes without a
// renewal. It runs apart from the renewals so that a hung etcd call cannot
// delay it. It returns when ctx ends.
func (h *heartbeat) watchdog(ctx context.Context) {
	for {
		h.mu.Lock()
		deadline := h.deadline
		h.mu.Unlock()
		var fire <-chan time.Time
		var t clock.Timer
		if !deadline.IsZero() {
			left := deadline.Sub(h.clock.Now())
			if left <= 0 {
				h.fence("lease not renewed in time")
				continue
			}
			t = h.clock.NewTimer(left)
			fire = t.C()
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-h.kick:
		case <-fire:
			h.mu.Lock()
			stale := h.deadline.Equal(deadline)
			h.mu.Unlock()
			if stale {
				h.fence("lease not renewed in time")
			}
		}
		if t != nil {
			t.Stop()
		}
	}
}

// session is the worker's standing: active (registered under a lease and
// not fenced) or not. Pods start only while it is active; a fence ends it.
// Every end is counted, so that a fence followed at once by a new
// registration is seen even by a goroutine that only looks afterwards.
type session struct {
	mu      sync.Mutex
	active  bool
	lease   clientv3.LeaseID
	ends    uint64        // times an active session ended
	changed chan struct{} // closed on every change
}

func newSession() *session { return &session{changed: make(chan struct{})} }

func (s *session) set(active bool, lease clientv3.LeaseID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == active && s.lease == lease {
		return false
	}
	if s.active && !active {
		s.ends++
	}
	s.active, s.lease = active, lease
	close(s.changed)
	s.changed = make(chan struct{})
	return true
}

func (s *session) activate(lease clientv3.LeaseID) bool { return s.set(true, lease) }

// fence ends the session; it reports whether it was active.
func (s *session) fence() bool {
	s.mu.Lock()
	lease := s.lease
	s.mu.Unlock()
	return s.set(false, lease)
}

func (s *session) isActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// state returns whether the session is active, how many times an active
// session has ended, and a channel closed on its next change.
func (s *session) state() (active bool, ends uint64, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, s.ends, s.changed
}
