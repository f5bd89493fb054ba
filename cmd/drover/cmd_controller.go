package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/controller/apiserver"
	"github.com/drover-dev/drover/controller/job"
	"github.com/drover-dev/drover/internal/metrics"
)

func init() {
	var (
		endpoints, listen, identity, logLevel string
		electionTTL                           time.Duration
		cronMinute                            time.Duration
		maxPending                            int
		watchBuffer                           int
		observe                               observeFlags
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run a controller replica: the API server, and the reconcilers while it leads",
		Long: `Run one controller replica. Every replica serves the gRPC API; the replicas
elect one leader through etcd, and only the leader runs the reconcilers (jobs,
scheduler, node lifecycle, garbage collector). Every write the leader makes is
fenced by its election key, so a deposed leader cannot change the store.

Run as many replicas as you like against the same etcd. A killed leader is
replaced within --election-ttl; a leader stopped with SIGTERM or Ctrl-C hands
over at once.`,
		Example: `  drover controller --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379 --listen 0.0.0.0:7070`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watchBuffer < apiserver.MinWatchBuffer {
				return fmt.Errorf("--watch-buffer must be at least %d (the most changes one store transaction makes), not %d", apiserver.MinWatchBuffer, watchBuffer)
			}
			lg, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = lg.Sync() }()
			cli, err := newEtcdClient(endpoints, lg)
			if err != nil {
				return err
			}
			defer cli.Close()
			reg := metrics.NewRegistry()
			c, err := controller.New(controller.Config{Etcd: cli, Listen: listen, Identity: identity, ElectionTTL: electionTTL, Logger: lg, CronMinute: cronMinute,
				MaxPendingPodsPerJob: maxPending, Metrics: metrics.NewController(reg), WatchBuffer: watchBuffer})
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			wait, err := observe.start(ctx, lg, reg, c.Ready)
			if err != nil {
				return err
			}
			defer func() { cancel(); wait() }()
			lg.Info("controller starting", zap.String("api", c.Addr()), zap.String("etcd", endpoints))
			return c.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoints, "etcd-endpoints", envDefault("DROVER_ETCD_ENDPOINTS", "http://127.0.0.1:2379"), "comma-separated etcd client URLs (env DROVER_ETCD_ENDPOINTS)")
	f.StringVar(&listen, "listen", "127.0.0.1:7070", "address for the gRPC API")
	f.StringVar(&identity, "identity", "", "this replica's name in the election (default hostname-pid)")
	f.DurationVar(&electionTTL, "election-ttl", controller.DefaultElectionTTL, "leader election session TTL: a dead leader is replaced within it")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.IntVar(&watchBuffer, "watch-buffer", apiserver.DefaultWatchBuffer, "changes a watch stream holds for a client that is not reading them, at least "+fmt.Sprint(apiserver.MinWatchBuffer)+"; a client further behind has its stream ended (ResourceExhausted, WATCH_TOO_FAR_BEHIND) and watches again from its last resourceVersion, as the SDK does")
	addCronMinuteFlag(cmd, &cronMinute)
	addMaxPendingFlag(cmd, &maxPending)
	observe.register(f)
	rootCmd.AddCommand(cmd)
}

// addMaxPendingFlag defines --max-pending-pods-per-job (SPEC B1) on the
// commands that run a controller.
func addMaxPendingFlag(cmd *cobra.Command, n *int) {
	cmd.Flags().IntVar(n, "max-pending-pods-per-job", job.DefaultMaxPendingPods,
		"at most this many of a Job's pods wait unplaced (not yet on a node); more are created as they are placed")
}
