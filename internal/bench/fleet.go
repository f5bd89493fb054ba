// Package bench measures Drover against the storage it runs on: a fleet of
// hollow nodes (real workers over the fake runtime), the raw etcd put rate
// (the storage ceiling), and a Job run end to end with its wall time, pod
// rate, etcd writes per pod, start latency and controller cost.
package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/drover-dev/drover/internal/metrics"
	"github.com/drover-dev/drover/worker"
	"github.com/drover-dev/drover/worker/runtime/fake"
)

// DefaultNodesPerClient is how many hollow workers share one etcd client
// (one gRPC connection; their watches share one stream).
const DefaultNodesPerClient = 500

// DefaultHollowCapacity is a hollow node's capacity: big enough that pods
// without requests are limited only by the pod slots, as on a real node.
var DefaultHollowCapacity = map[string]string{"cpu": "32", "memory": "256Gi", "pods": worker.DefaultMaxPods}

// FleetConfig configures a fleet of hollow nodes in this process.
type FleetConfig struct {
	// Endpoints are etcd's client URLs (required).
	Endpoints []string
	// Nodes is the number of hollow nodes (required).
	Nodes int
	// NamePrefix names the nodes <prefix><i>, i from 1 (default "hollow-").
	NamePrefix string
	// HeartbeatInterval and LeaseTTL are each worker's (default the
	// worker's defaults, SPEC N1).
	HeartbeatInterval, LeaseTTL time.Duration
	// Fake configures every node's fake runtime.
	Fake fake.Config
	// Capacity and Labels of every node (default DefaultHollowCapacity).
	Capacity, Labels map[string]string
	// Ramp spreads the nodes' starts (and so their heartbeats) over this
	// long; default min(HeartbeatInterval, Nodes × 2 ms).
	Ramp time.Duration
	// NodesPerClient hollow nodes share one etcd client (default
	// DefaultNodesPerClient).
	NodesPerClient int
	// Metrics receives every worker's metrics (may be nil).
	Metrics *metrics.Worker
	// Logger for the workers (default none).
	Logger *zap.Logger
}

// Fleet is a running set of hollow nodes.
type Fleet struct {
	cfg          FleetConfig
	clients      []*clientv3.Client
	leaseClients []*clientv3.Client
	workers      []*worker.Worker
}

// NewFleet creates the etcd clients and the workers; Run starts them.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Nodes <= 0 {
		return nil, errors.New("bench: a fleet needs at least one node")
	}
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("bench: no etcd endpoints")
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "hollow-"
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = worker.DefaultHeartbeatInterval
	}
	if cfg.Capacity == nil {
		cfg.Capacity = DefaultHollowCapacity
	}
	if cfg.Ramp <= 0 {
		cfg.Ramp = min(cfg.HeartbeatInterval, time.Duration(cfg.Nodes)*2*time.Millisecond)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.NodesPerClient <= 0 {
		cfg.NodesPerClient = DefaultNodesPerClient
	}
	f := &Fleet{cfg: cfg}
	for range (cfg.Nodes + cfg.NodesPerClient - 1) / cfg.NodesPerClient {
		for _, to := range []*[]*clientv3.Client{&f.clients, &f.leaseClients} {
			cli, err := clientv3.New(clientv3.Config{
				Endpoints: cfg.Endpoints, DialTimeout: 5 * time.Second,
				DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 3 * time.Second,
				Logger: cfg.Logger.Named("etcd-client").WithOptions(zap.IncreaseLevel(zap.ErrorLevel)),
			})
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("bench: etcd client: %w", err)
			}
			*to = append(*to, cli)
		}
	}
	for i := range cfg.Nodes {
		rt, err := fake.New(cfg.Fake)
		if err != nil {
			f.Close()
			return nil, err
		}
		w, err := worker.New(worker.Config{
			NodeName:          fmt.Sprintf("%s%d", cfg.NamePrefix, i+1),
			Etcd:              f.clients[i/cfg.NodesPerClient],
			LeaseEtcd:         f.leaseClients[i/cfg.NodesPerClient],
			HeartbeatInterval: cfg.HeartbeatInterval,
			LeaseTTL:          cfg.LeaseTTL,
			Runtime:           rt,
			RuntimeName:       fake.Name,
			InProcessRuntime:  true,
			NoAgent:           true,
			Labels:            cfg.Labels,
			Capacity:          cfg.Capacity,
			Metrics:           cfg.Metrics,
			Logger:            cfg.Logger,
		})
		if err != nil {
			f.Close()
			return nil, err
		}
		f.workers = append(f.workers, w)
	}
	return f, nil
}

// Workers are the fleet's workers.
func (f *Fleet) Workers() []*worker.Worker { return f.workers }

// Run starts the workers, spread over the ramp, and runs them until ctx
// ends; it returns when every worker has returned, with the first error.
func (f *Fleet) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	step := f.cfg.Ramp / time.Duration(len(f.workers))
	start := time.Now()
	for i, w := range f.workers {
		if d := time.Until(start.Add(step * time.Duration(i))); d > 0 {
			select {
			case <-gctx.Done():
			case <-time.After(d):
			}
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return w.Run(gctx) })
	}
	return g.Wait()
}

// WaitReady blocks until every worker is registered with a fresh lease, or
// ctx ends.
func (f *Fleet) WaitReady(ctx context.Context) error {
	for {
		notReady := 0
		for _, w := range f.workers {
			if w.Ready() != nil {
				notReady++
			}
		}
		if notReady == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: %d of %d hollow nodes not ready: %w", notReady, len(f.workers), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ready returns nil when every worker is ready (for /readyz).
func (f *Fleet) Ready() error {
	var first error
	n := 0
	for _, w := range f.workers {
		if err := w.Ready(); err != nil {
			n++
			if first == nil {
				first = fmt.Errorf("%s: %w", w.NodeName(), err)
			}
		}
	}
	if n > 0 {
		return fmt.Errorf("%d of %d hollow nodes not ready, e.g. %w", n, len(f.workers), first)
	}
	return nil
}

// Close closes the fleet's etcd clients; call it after Run has returned.
func (f *Fleet) Close() {
	for _, c := range append(f.clients, f.leaseClients...) {
		c.Close()
	}
}
