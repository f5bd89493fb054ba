// Package controller assembles a Drover controller replica (SPEC L1-L3):
// every replica serves the gRPC API; the replica elected leader also runs
// the reconcilers (job, scheduler, node lifecycle, garbage collector) over an
// in-memory cache, writing through a store fenced by its leadership.
package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/apiserver"
	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/cronjob"
	"github.com/drover-dev/drover/controller/daemonset"
	"github.com/drover-dev/drover/controller/gc"
	"github.com/drover-dev/drover/controller/job"
	"github.com/drover-dev/drover/controller/leader"
	"github.com/drover-dev/drover/controller/node"
	"github.com/drover-dev/drover/controller/queue"
	"github.com/drover-dev/drover/controller/scheduler"
	"github.com/drover-dev/drover/internal/metrics"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// DefaultElectionTTL is the election session TTL: a killed leader is
// replaced within it.
const DefaultElectionTTL = 10 * time.Second

// Config configures a replica.
type Config struct {
	// Etcd is the store's client.
	Etcd *clientv3.Client
	// Listen is the API's host:port; port 0 picks one (see Addr).
	Listen string
	// Identity names this replica in the election; default host-pid.
	Identity string
	// ElectionTTL defaults to DefaultElectionTTL.
	ElectionTTL time.Duration
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// Clock defaults to the real clock.
	Clock clock.Clock
	// CronMinute is the length of a CronJob schedule minute: 0 means a real
	// minute. Tests set it to a second so that schedules run 60 times
	// faster (drover controller --cron-minute; docs/cronjobs-daemonsets.md).
	CronMinute time.Duration
	// MaxPendingPodsPerJob bounds each Job's pods waiting to be placed on a
	// node (SPEC B1); 0 means job.DefaultMaxPendingPods.
	MaxPendingPodsPerJob int
	// Metrics, if set, receives reconcile counts and latencies, work-queue
	// depths, and pods created and bound (observed in the leader's cache).
	Metrics *metrics.Controller
	// WatchBuffer is how many changes a watch stream holds for a client
	// that does not read them before ending it (SPEC B1); 0 means
	// apiserver.DefaultWatchBuffer (drover controller --watch-buffer).
	WatchBuffer int
}

// Controller is one replica.
type Controller struct {
	cfg  Config
	lis  net.Listener
	grpc *grpc.Server
	lg   *zap.Logger

	serving atomic.Bool

	mu      sync.Mutex
	leading bool
}

// New validates cfg and opens the API listener.
func New(cfg Config) (*Controller, error) {
	if cfg.Etcd == nil {
		return nil, fmt.Errorf("controller: no etcd client")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ElectionTTL <= 0 {
		cfg.ElectionTTL = DefaultElectionTTL
	}
	if cfg.MaxPendingPodsPerJob < 0 {
		return nil, fmt.Errorf("controller: --max-pending-pods-per-job must be > 0 (0: the default %d), not %d", job.DefaultMaxPendingPods, cfg.MaxPendingPodsPerJob)
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:7070"
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("controller: listen %s: %w", cfg.Listen, err)
	}
	c := &Controller{cfg: cfg, lis: lis, lg: cfg.Logger.Named("controller").With(zap.String("identity", cfg.Identity))}
	c.grpc = grpc.NewServer()
	apiserver.New(store.New(cfg.Etcd), cfg.Identity, cfg.Clock, cfg.Logger, apiserver.WithWatchBuffer(cfg.WatchBuffer)).Register(c.grpc)
	return c, nil
}

// Addr is the API's listen address.
func (c *Controller) Addr() string { return c.lis.Addr().String() }

// Leading reports whether this replica currently leads.
func (c *Controller) Leading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leading
}

// Ready returns nil when the API serves and etcd answers a read within
// ctx, else why not (for /readyz). A replica that does not lead is ready.
func (c *Controller) Ready(ctx context.Context) error {
	if !c.serving.Load() {
		return fmt.Errorf("api not serving")
	}
	if _, err := c.cfg.Etcd.Get(ctx, store.Root, clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithLimit(1)); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	return nil
}

// Run serves the API and takes part in the election until ctx ends; then it
// resigns (handing over at once) and stops the API.
func (c *Controller) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	c.serving.Store(true)
	defer c.serving.Store(false)
	go func() { serveErr <- c.grpc.Serve(c.lis) }()
	c.lg.Info("serving api", zap.String("addr", c.Addr()))
	el := leader.New(c.cfg.Etcd, c.cfg.Identity, c.cfg.ElectionTTL, c.cfg.Logger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = el.Run(ctx, c.lead)
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	<-done
	stopped := make(chan struct{})
	go func() { c.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		c.grpc.Stop() // open watch streams would otherwise hold it
	}
	return err
}

// lead runs the reconcilers while this replica leads.
func (c *Controller) lead(ctx context.Context, st *store.Store) {
	c.setLeading(true)
	defer c.setLeading(false)
	lg, clk := c.cfg.Logger, c.cfg.Clock
	ca := cache.New(st, lg)
	if m := c.cfg.Metrics; m != nil {
		m.Leading.Set(1)
		defer m.Leading.Set(0)
		ctx = queue.WithObserver(ctx, queueMetrics{m})
		ca.AddHandler(func(ch cache.Change) { countPods(m, ch) })
	}
	runners := []func(context.Context){
		c.jobController(st, ca).Run,
		scheduler.New(st, ca, clk, lg).Run,
		node.New(st, ca, clk, lg).Run,
		gc.New(st, ca, clk, lg).Run,
		cronjob.New(st, ca, clk, lg, c.cfg.CronMinute).Run,
		daemonset.New(st, ca, clk, lg).Run,
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = ca.Run(ctx) }()
	for !ca.Synced() {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	for _, run := range runners {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	wg.Wait()
}

// jobController is the Job reconciler with this replica's limits.
func (c *Controller) jobController(st *store.Store, ca *cache.Cache) *job.Controller {
	jc := job.New(st, ca, c.cfg.Clock, c.cfg.Logger)
	jc.Limits = job.Limits{MaxPendingPods: c.cfg.MaxPendingPodsPerJob}
	return jc
}

// queueMetrics reports the reconcilers' queues and reconciles to metrics.
type queueMetrics struct{ m *metrics.Controller }

func (q queueMetrics) QueueStarted(name string, wq *queue.Queue) { q.m.SetQueueDepth(name, wq.Len) }
func (q queueMetrics) Reconciled(name string, d time.Duration, err error) {
	q.m.ObserveReconcile(name, d, err)
	if pe := (*queue.PanicError)(nil); errors.As(err, &pe) {
		q.m.ObservePanic(name)
	}
}

// countPods counts pod creations and bindings seen in the cache (not on a
// resync, which reports every object as unchanged).
func countPods(m *metrics.Controller, ch cache.Change) {
	p, ok := ch.New.(*v1.Pod)
	if !ok || ch.Old == ch.New {
		return
	}
	old, _ := ch.Old.(*v1.Pod)
	if old == nil {
		m.PodsCreated.Inc()
	}
	if p.GetSpec().GetNodeName() != "" && old.GetSpec().GetNodeName() == "" {
		m.PodsBound.Inc()
	}
}

func (c *Controller) setLeading(b bool) {
	c.mu.Lock()
	c.leading = b
	c.mu.Unlock()
}
