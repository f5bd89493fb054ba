package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/internal/embedetcd"
	"github.com/drover-dev/drover/worker"
)

func init() {
	var (
		etcdListen, listen, dataDir, logLevel string
		workers                               int
		heartbeat, leaseTTL, electionTTL      time.Duration
		cronMinute                            time.Duration
		maxPending                            int
		logLimits                             logLimitFlags
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole cluster in this process: embedded etcd, a controller and workers",
		Long: `Run a whole Drover cluster in one process, for a laptop or a test: an embedded
etcd, one controller (API on --listen) and --workers workers that run pods as
local processes (the container image is ignored; the command runs on this
machine).

State lives in --data-dir: stop with Ctrl-C and start again on the same
directory and every object is still there. Pods run under a small shim and
outlive the process; a restarted worker finds them again.

With --workers 0 only etcd and the controller run, so that separate
'drover worker' processes can join:

  drover worker --etcd-endpoints http://127.0.0.1:2379 --name w1`,
		Example: `  drover dev
  drover dev --workers 3 --data-dir /tmp/drover
  drover dev --etcd-listen 127.0.0.1:12379 --listen 127.0.0.1:17070`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logMaxSize, logMaxFiles, err := logLimits.values()
			if err != nil {
				return err
			}
			lg, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = lg.Sync() }()
			if dataDir == "" {
				cache, err := os.UserCacheDir()
				if err != nil {
					return fmt.Errorf("no --data-dir and no user cache dir: %w", err)
				}
				dataDir = filepath.Join(cache, "drover", "dev")
			}
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return err
			}
			return runDev(devConfig{
				dataDir: dataDir, etcdListen: etcdListen, listen: listen, workers: workers,
				heartbeat: heartbeat, leaseTTL: leaseTTL, electionTTL: electionTTL, cronMinute: cronMinute,
				maxPending: maxPending,
				logMaxSize: logMaxSize, logMaxFiles: logMaxFiles,
			}, lg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&etcdListen, "etcd-listen", "127.0.0.1:2379", "client address of the embedded etcd")
	f.StringVar(&listen, "listen", "127.0.0.1:7070", "address of the gRPC API")
	f.StringVar(&dataDir, "data-dir", "", "where etcd and the workers keep their state (default <user cache dir>/drover/dev)")
	f.IntVar(&workers, "workers", 2, "in-process workers to run (0: etcd and the controller only)")
	f.DurationVar(&heartbeat, "heartbeat-interval", worker.DefaultHeartbeatInterval, "how often workers renew their lease")
	f.DurationVar(&leaseTTL, "lease-ttl", worker.DefaultLeaseTTL, "worker lease TTL: a silent worker's pods are replaced after it")
	f.DurationVar(&electionTTL, "election-ttl", controller.DefaultElectionTTL, "leader election session TTL")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	addCronMinuteFlag(cmd, &cronMinute)
	addMaxPendingFlag(cmd, &maxPending)
	logLimits.register(f)
	rootCmd.AddCommand(cmd)
}

type devConfig struct {
	dataDir, etcdListen, listen      string
	workers                          int
	heartbeat, leaseTTL, electionTTL time.Duration
	cronMinute                       time.Duration
	maxPending                       int
	// Bounds of each container's log (SPEC W3).
	logMaxSize  int64
	logMaxFiles int
}

func runDev(cfg devConfig, lg *zap.Logger) error {
	etcd, err := embedetcd.Start(embedetcd.Config{Dir: filepath.Join(cfg.dataDir, "etcd"), ClientAddr: cfg.etcdListen})
	if err != nil {
		return err
	}
	defer etcd.Close()
	cli, err := newEtcdClient(etcd.Endpoint(), lg)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctrl, err := controller.New(controller.Config{Etcd: cli, Listen: cfg.listen, Identity: "dev-controller", ElectionTTL: cfg.electionTTL, Logger: lg, CronMinute: cfg.cronMinute,
		MaxPendingPodsPerJob: cfg.maxPending})
	if err != nil {
		return err
	}
	var ws []*worker.Worker
	for i := 1; i <= cfg.workers; i++ {
		name := fmt.Sprintf("worker-%d", i)
		w, err := worker.New(worker.Config{
			NodeName: name, Etcd: cli, DataDir: filepath.Join(cfg.dataDir, name),
			HeartbeatInterval: cfg.heartbeat, LeaseTTL: cfg.leaseTTL,
			ContainerLogMaxSize: cfg.logMaxSize, ContainerLogMaxFiles: cfg.logMaxFiles,
			Logger: lg,
		})
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	ctx, cancel := signalContext()
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1+len(ws))
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errs <- err
				cancel()
			}
		}()
	}
	run(ctrl.Run)
	for _, w := range ws {
		run(w.Run)
	}
	lg.Info("drover dev is up",
		zap.String("api", ctrl.Addr()), zap.String("etcd", etcd.Endpoint()),
		zap.Int("workers", len(ws)), zap.String("data_dir", cfg.dataDir))
	fmt.Fprintf(os.Stderr, "\ndrover dev: API on %s, etcd on %s, %d worker(s), data in %s\n"+
		"  try: drover apply -f examples/pi.yaml && drover wait job/pi --for=condition=Complete && drover logs job/pi\n"+
		"  stop with Ctrl-C\n\n", ctrl.Addr(), etcd.Endpoint(), len(ws), cfg.dataDir)
	select {
	case <-ctx.Done():
	case err := <-etcd.Err():
		cancel()
		wg.Wait()
		return fmt.Errorf("embedded etcd failed: %w", err)
	}
	lg.Info("shutting down")
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
