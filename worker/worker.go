// Package worker is Drover's node agent: it registers its node and keeps an
// etcd lease alive (SPEC N1), fences its pods when it cannot (N4), runs the
// pods assigned to it through the RuntimeService and writes their status
// (P2), keeps them across its own restarts (N3), and serves their logs (P3).
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/internal/metrics"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/worker/runtime"
	"github.com/drover-dev/drover/worker/runtime/process"
)

// Defaults of Config (SPEC N1).
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultLeaseTTL          = 40 * time.Second
	DefaultAgentListen       = "127.0.0.1:0"
	DefaultMaxPods           = "110"
)

// Config configures a Worker. Several Workers may run in one process, each
// with its own NodeName and DataDir.
type Config struct {
	// NodeName is the node's name (required).
	NodeName string
	// Etcd is the client of the cluster's etcd (required); the Worker does
	// not close it.
	Etcd *clientv3.Client
	// LeaseEtcd, if set, is the client the heartbeat renews the lease
	// through (default Etcd). Hollow fleets give leases connections of
	// their own, so that a renewal's answer does not queue behind other
	// nodes' watch traffic on a shared connection.
	LeaseEtcd *clientv3.Client
	// HeartbeatInterval is how often the lease is renewed (default 10 s).
	HeartbeatInterval time.Duration
	// LeaseTTL is the lease's time to live (default 40 s). The worker kills
	// its pods when it has not renewed the lease for LeaseTTL - LeaseTTL/4
	// (see FenceMargin); HeartbeatInterval must be shorter than that.
	LeaseTTL time.Duration
	// DataDir holds the runtime's containers and logs (required).
	DataDir string
	// Runtime is the backend the Worker serves as its RuntimeService
	// (default: the process backend over DataDir/containers). If it is an
	// io.Closer, Run closes it when it returns.
	Runtime runtime.Backend
	// RuntimeName is the backend's name, published in the node's status
	// (default process.Name when Runtime is nil).
	RuntimeName string
	// RuntimeSocket is the unix socket of the RuntimeService, served by the
	// Worker itself (default DataDir/runtime.sock).
	RuntimeSocket string
	// ContainerLogMaxSize and ContainerLogMaxFiles bound each container's
	// log in the default process runtime: rotated at ContainerLogMaxSize
	// bytes, at most ContainerLogMaxFiles files (defaults 10Mi and 5, SPEC
	// W3; see process.Config). A Runtime given in Config has its own.
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
	// InProcessRuntime makes the Worker call Runtime directly instead of
	// through the RuntimeService on a unix socket (hollow nodes: no socket,
	// no gRPC server). It needs Runtime; DataDir may then be empty.
	InProcessRuntime bool
	// NoAgent disables the NodeAgentService (pod logs): no listener, and
	// the node publishes no AgentEndpoint address (hollow nodes).
	NoAgent bool
	// Metrics, if set, receives the worker's metrics (heartbeat renewals,
	// running pods, status writes). Several Workers may share one.
	Metrics *metrics.Worker
	// AgentListen is where the NodeAgentService (logs) listens (default
	// 127.0.0.1:0, a free port).
	AgentListen string
	// AdvertiseAddr is the host:port published in the node's
	// AgentEndpoint address; default the listener's address (with an
	// unspecified host replaced by this machine's first non-loopback IP).
	AdvertiseAddr string
	// Labels are the node's labels; kubernetes.io/hostname=NodeName is added.
	Labels map[string]string
	// Capacity is the node's capacity. Each of cpu, memory and pods that it
	// does not name is measured: cpu = NumCPU, memory = RAM, pods = 110.
	Capacity map[string]string
	// Logger receives the worker's logs (default: none).
	Logger *zap.Logger
	// Clock drives heartbeats, backoff, restarts and deadlines (default:
	// the real clock).
	Clock clock.WithTicker
}

// Worker is one node's agent. Create it with New and start it with Run.
type Worker struct {
	cfg    Config
	lg     *zap.Logger
	clock  clock.WithTicker
	st     *store.Store
	local  runtime.Backend
	hostIP string

	agentLis net.Listener
	rtLis    net.Listener
	rt       runtime.Backend // the RuntimeService client, set by Run
	hb       *heartbeat
	sess     *session
	pods     *podManager
}

// New checks cfg, fills in its defaults, creates the data directory and opens
// the runtime socket and the NodeAgentService listener (Run closes them; call
// Run exactly once).
func New(cfg Config) (*Worker, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("worker: no node name")
	}
	if cfg.Etcd == nil {
		return nil, errors.New("worker: no etcd client")
	}
	inProcess := cfg.InProcessRuntime
	if inProcess && cfg.Runtime == nil {
		return nil, errors.New("worker: an in-process runtime needs Config.Runtime")
	}
	if cfg.DataDir == "" && !inProcess {
		return nil, errors.New("worker: no data directory")
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseTTL < 2*time.Second || cfg.LeaseTTL%time.Second != 0 {
		return nil, fmt.Errorf("worker: lease TTL %v: must be whole seconds, at least 2s", cfg.LeaseTTL)
	}
	if cfg.HeartbeatInterval >= cfg.LeaseTTL-FenceMargin(cfg.LeaseTTL) {
		return nil, fmt.Errorf("worker: heartbeat interval %v must be shorter than the lease TTL less its fence margin (%v)",
			cfg.HeartbeatInterval, cfg.LeaseTTL-FenceMargin(cfg.LeaseTTL))
	}
	if cfg.AgentListen == "" {
		cfg.AgentListen = DefaultAgentListen
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	cfg.Capacity = withMeasuredCapacity(cfg.Capacity)
	if cfg.DataDir != "" {
		dataDir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		cfg.DataDir = dataDir
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("worker: data dir: %w", err)
		}
	}
	if cfg.RuntimeSocket == "" && !inProcess {
		cfg.RuntimeSocket = filepath.Join(cfg.DataDir, "runtime.sock")
	}
	local := cfg.Runtime
	if local == nil {
		proc, err := process.New(process.Config{Root: filepath.Join(cfg.DataDir, "containers"),
			LogMaxSize: cfg.ContainerLogMaxSize, LogMaxFiles: cfg.ContainerLogMaxFiles})
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		local, cfg.RuntimeName = proc, process.Name
	}
	var rtLis, agentLis net.Listener
	if !inProcess {
		var err error
		if rtLis, err = runtime.Listen(cfg.RuntimeSocket); err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
	}
	if !cfg.NoAgent {
		var err error
		if agentLis, err = net.Listen("tcp", cfg.AgentListen); err != nil {
			if rtLis != nil {
				rtLis.Close()
			}
			return nil, fmt.Errorf("worker: agent listen: %w", err)
		}
		if cfg.AdvertiseAddr == "" {
			cfg.AdvertiseAddr = advertise(agentLis.Addr().String())
		}
	}
	host, _, _ := net.SplitHostPort(cfg.AdvertiseAddr)
	lg := cfg.Logger.Named("worker").With(zap.String("node", cfg.NodeName))
	w := &Worker{
		cfg:      cfg,
		lg:       lg,
		clock:    cfg.Clock,
		st:       store.New(cfg.Etcd),
		local:    local,
		hostIP:   host,
		agentLis: agentLis,
		rtLis:    rtLis,
		sess:     newSession(),
	}
	w.hb = newHeartbeat(w)
	return w, nil
}

// NodeName is the worker's node name.
func (w *Worker) NodeName() string { return w.cfg.NodeName }

// AgentAddr is the address published for the NodeAgentService.
func (w *Worker) AgentAddr() string { return w.cfg.AdvertiseAddr }

// DataDir is the worker's data directory.
func (w *Worker) DataDir() string { return w.cfg.DataDir }

// Heartbeat reports the lease heartbeat's state; safe to call at any time.
func (w *Worker) Heartbeat() HeartbeatStatus { return w.hb.status() }

// Ready returns nil when the worker is registered, not fenced, its last
// renewal is recent enough that the fence deadline has not passed, and it
// has listed its assignments and watches them (so a pod assigned from now
// on reaches it through the watch); else why not (for /readyz).
func (w *Worker) Ready() error {
	st := w.hb.status()
	switch {
	case st.Registrations == 0:
		return errors.New("not registered")
	case st.Fenced:
		return errors.New("fenced: the lease could not be renewed")
	}
	if age := w.clock.Since(st.LastRenewal); age >= w.cfg.LeaseTTL-FenceMargin(w.cfg.LeaseTTL) {
		return fmt.Errorf("lease last renewed %v ago", age.Round(time.Millisecond))
	}
	if w.pods != nil && !w.pods.following.Load() {
		return errors.New("assignments not yet listed and watched")
	}
	return nil
}

// Run runs the worker until ctx ends: the RuntimeService, the lease
// heartbeat and fence, the assignment watch and the NodeAgentService. It
// returns nil once ctx has ended and every goroutine it started has
// returned, or an error if a server fails. Ending ctx neither stops pods
// (they outlive the worker, SPEC N3) nor revokes the lease: a worker that
// restarts within the lease TTL keeps its pods. Pods are killed by the
// runtime's fence only if no worker renews the lease in time (N4).
func (w *Worker) Run(ctx context.Context) error {
	if w.agentLis != nil {
		defer w.agentLis.Close()
	}
	if c, ok := w.local.(io.Closer); ok {
		defer c.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	rt := w.local
	if !w.cfg.InProcessRuntime {
		g.Go(func() error { return runtime.ServeListener(ctx, w.rtLis, w.local) })
		conn, closer, err := runtime.Dial(ctx, w.cfg.RuntimeSocket)
		if err != nil {
			cancel()
			g.Wait()
			return fmt.Errorf("worker: %w", err)
		}
		defer closer.Close()
		rt = runtime.NewClient(conn)
	}
	w.rt = rt
	w.pods = newPodManager(w, rt)

	g.Go(func() error { return w.hb.run(ctx) })
	g.Go(func() error { w.hb.watchdog(ctx); return nil })
	g.Go(func() error { return w.pods.run(ctx) })
	if w.agentLis != nil {
		agent := grpc.NewServer()
		v1.RegisterNodeAgentServiceServer(agent, &agentServer{w: w, rt: rt})
		g.Go(func() error {
			stop := context.AfterFunc(ctx, agent.Stop)
			defer stop()
			if err := agent.Serve(w.agentLis); err != nil && ctx.Err() == nil {
				return fmt.Errorf("worker: agent server: %w", err)
			}
			return nil
		})
	}
	w.lg.Info("worker started", zap.String("agent", w.cfg.AdvertiseAddr), zap.String("data_dir", w.cfg.DataDir))
	err := g.Wait()
	w.lg.Info("worker stopped")
	return err
}

// advertise turns a listener address into one other machines can dial.
func advertise(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsUnspecified() {
		return addr
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return net.JoinHostPort(n.IP.String(), port)
			}
		}
	}
	return net.JoinHostPort("127.0.0.1", port)
}
