package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/internal/bench"
	"github.com/drover-dev/drover/internal/metrics"
	"github.com/drover-dev/drover/worker"
	"github.com/drover-dev/drover/worker/runtime/fake"
)

// fakeFlags configure the fake runtime (drover worker --runtime fake, and
// drover hollow).
type fakeFlags struct {
	duration           time.Duration
	exitCode, failCode int32
	failRatio          float64
}

func (o *fakeFlags) register(f *pflag.FlagSet) {
	f.DurationVar(&o.duration, "fake-duration", 0, "fake runtime: how long each pod runs (0: exits at once); a container's env "+fake.EnvDuration+" overrides it")
	f.Int32Var(&o.exitCode, "fake-exit-code", 0, "fake runtime: the exit code of pods that do not fail; env "+fake.EnvExitCode+" overrides it")
	f.Float64Var(&o.failRatio, "fake-fail-ratio", 0, "fake runtime: share of pods (0..1, chosen by a hash of the container id) that exit with --fake-fail-exit-code")
	f.Int32Var(&o.failCode, "fake-fail-exit-code", 1, "fake runtime: the exit code of failing pods")
}

func (o *fakeFlags) config() fake.Config {
	return fake.Config{Duration: o.duration, ExitCode: o.exitCode, FailRatio: o.failRatio, FailExitCode: o.failCode}
}

func (o *fakeFlags) runtime() (*fake.Runtime, error) { return fake.New(o.config()) }

func init() {
	var (
		endpoints, prefix, labels, capacity, logLevel string
		nodes, nodesPerClient                         int
		heartbeat, leaseTTL, ramp                     time.Duration
		fakeOpts                                      fakeFlags
		observe                                       observeFlags
		procs                                         fleetProcs
	)
	cmd := &cobra.Command{
		Use:   "hollow",
		Short: "Run many hollow nodes in one process, for scale tests and benchmarks",
		Long: `Run --nodes hollow nodes in this process. Each is a real worker with its own
node object, etcd lease, heartbeat, fence watchdog and assignment watch, whose
pods run on the fake runtime: they pretend to run for --fake-duration and exit
with --fake-exit-code (or fail by --fake-fail-ratio), with no processes. A
pod's env DROVER_FAKE_DURATION and DROVER_FAKE_EXIT_CODE override both.

Hollow nodes serve no pod logs and need no data directory; every
--nodes-per-client of them share one etcd client for their watches and writes,
and another for their leases. Their starts are spread over --ramp so that their
heartbeats do not all fall on the same instant.`,
		Example: `  drover hollow --nodes 100 --etcd-endpoints http://127.0.0.1:2379
  drover hollow --nodes 5000 --fake-duration 30s --fake-fail-ratio 0.01 --metrics-listen 127.0.0.1:9091`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := procs.apply(cmd.Flags()); err != nil {
				return err
			}
			lbls, err := parsePairs("--labels", labels)
			if err != nil {
				return err
			}
			caps := bench.DefaultHollowCapacity
			if capacity != "" {
				if caps, err = parsePairs("--capacity", capacity); err != nil {
					return err
				}
			}
			lg, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = lg.Sync() }()
			reg := metrics.NewRegistry()
			fleet, err := bench.NewFleet(bench.FleetConfig{
				Endpoints: splitList(endpoints), Nodes: nodes, NamePrefix: prefix,
				HeartbeatInterval: heartbeat, LeaseTTL: leaseTTL, Ramp: ramp,
				NodesPerClient: nodesPerClient,
				Fake:           fakeOpts.config(), Capacity: caps, Labels: lbls,
				Metrics: metrics.NewWorker(reg),
				// Per-pod logs of thousands of nodes would drown
				// everything: only warnings and errors.
				Logger: lg.WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
			})
			if err != nil {
				return err
			}
			defer fleet.Close()
			ctx, cancel := signalContext()
			defer cancel()
			wait, err := observe.start(ctx, lg, reg, func(context.Context) error { return fleet.Ready() })
			if err != nil {
				return err
			}
			defer func() { cancel(); wait() }()
			lg.Info("hollow nodes starting", zap.Int("nodes", nodes), zap.String("etcd", endpoints))
			go func() {
				if fleet.WaitReady(ctx) == nil {
					lg.Info("hollow nodes ready", zap.Int("nodes", nodes))
				}
			}()
			return fleet.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoints, "etcd-endpoints", envDefault("DROVER_ETCD_ENDPOINTS", "http://127.0.0.1:2379"), "comma-separated etcd client URLs (env DROVER_ETCD_ENDPOINTS)")
	f.IntVar(&nodes, "nodes", 100, "number of hollow nodes")
	f.IntVar(&nodesPerClient, "nodes-per-client", bench.DefaultNodesPerClient, "hollow nodes sharing one etcd client (one connection) for watches and writes, and another for leases")
	f.StringVar(&prefix, "name-prefix", "hollow-", "nodes are named <prefix>1 … <prefix>N")
	f.DurationVar(&heartbeat, "heartbeat-interval", worker.DefaultHeartbeatInterval, "how often each node renews its lease")
	f.DurationVar(&leaseTTL, "lease-ttl", worker.DefaultLeaseTTL, "lease TTL, whole seconds")
	f.DurationVar(&ramp, "ramp", 0, "spread the nodes' starts over this long (default min(heartbeat interval, 2 ms per node))")
	f.StringVar(&labels, "labels", "", "labels of every node, k=v,k=v")
	f.StringVar(&capacity, "capacity", "", "capacity of every node (default cpu=32,memory=256Gi,pods=110)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error (the nodes log warnings and errors only)")
	fakeOpts.register(f)
	procs.register(f)
	observe.register(f)
	rootCmd.AddCommand(cmd)
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
