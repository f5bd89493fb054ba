package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/internal/bench"
	"github.com/drover-dev/drover/internal/embedetcd"
	"github.com/drover-dev/drover/internal/metrics"
)

// benchPreset is a named bench size.
type benchPreset struct {
	nodes, jobs, completions, parallelism, ceilingPuts, probeNodes int
	duration, timeout                                              time.Duration
}

var benchPresets = map[string]benchPreset{
	// The throughput target: 100 nodes, 20,000 zero-length pods, 2,000 at once.
	"throughput": {nodes: 100, jobs: 1, completions: 20000, parallelism: 2000, ceilingPuts: 20000, probeNodes: 10, timeout: 10 * time.Minute},
	// Kubernetes' largest supported cluster: 5,000 nodes, 150,000 pods in 30 Jobs.
	"scale": {nodes: 5000, jobs: 30, completions: 150000, parallelism: 500, ceilingPuts: 20000, probeNodes: 100, timeout: 60 * time.Minute},
	// What CI runs: about 1,000 pods in well under a minute.
	"ci": {nodes: 20, jobs: 1, completions: 1000, parallelism: 200, ceilingPuts: 5000, probeNodes: 5, timeout: 3 * time.Minute},
}

func init() {
	var (
		preset, endpoints, etcdBinary, dataDir, ctrlPprof, logLevel string
		embedded, asJSON, inProcess                                 bool
		nodesPerClient, etcdNice, etcdProcs                         int
		p                                                           benchPreset
		observe                                                     observeFlags
		procs                                                       fleetProcs
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Drover against its storage: hollow nodes, a Job, and the raw etcd put rate",
		Long: `Run a benchmark on this machine and print what it measured.

First the storage ceiling: raw etcd puts of 1 KiB values from 64 concurrent
clients, a fixed count. Then a controller (a separate 'drover controller'
process, so that its CPU time and peak RSS are its own, read from the kernel's
rusage when it exits) and --nodes hollow nodes in this process (real workers on
the fake runtime). Then --jobs Jobs of --completions pods in all, each Job with
--parallelism, each pod running --duration, are submitted through the API and
waited for.

The report: wall time (first Job created to last Job Complete), completed pods
per second, etcd writes per pod (the revision delta over the run divided by
the pods; every key write is counted too), the write rate's ratio to the
storage ceiling, pod start latency (creationTimestamp to status.startTime)
p50/p99, heartbeat renewal p99 over the Job run, nodes declared lost, and CPU
and peak RSS of the controller, of etcd and of this process.

This process hosts the whole fleet, so it runs with more Ps than cores
(--gomaxprocs, default 4 per core and at least 8): with one P per core, a
thread the kernel deschedules holds up the goroutines of every node queued on
it, and the fleet's renewal p99 was 5-8 times higher (docs/benchmarks.md).
The etcd process gets as many (--etcd-gomaxprocs), for the same reason: here
it shares the cores that production gives it alone.

--probe-nodes more hollow nodes run in a child 'drover hollow' process of
their own, otherwise idle as a real worker's machine is; their renewal p99 is
reported apart, without the queueing inside the one process that hosts the
whole fleet. --etcd-nice sets the etcd process's scheduling priority (a
negative one, which needs root, stands in for the CPU etcd has to itself in
production).

etcd runs as its own process from --etcd-binary ('make etcd' builds it) when
that exists, which keeps its CPU apart; otherwise, or with --embedded-etcd, it
runs inside this process. With --etcd-endpoints an etcd of your own is used
(it must not hold a namespace "bench").`,
		Example: `  drover bench --preset throughput
  drover bench --preset scale --json > scale.json
  sudo drover bench --preset scale --etcd-nice -10
  drover bench --nodes 10 --completions 500 --parallelism 50 --duration 100ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := procs.apply(cmd.Flags()); err != nil {
				return err
			}
			if preset != "" {
				pr, ok := benchPresets[preset]
				if !ok {
					return fmt.Errorf("--preset %q: one of throughput, scale, ci", preset)
				}
				// Flags given explicitly win over the preset.
				fl := cmd.Flags()
				set := func(name string, dst *int, v int) {
					if !fl.Changed(name) {
						*dst = v
					}
				}
				set("nodes", &p.nodes, pr.nodes)
				set("jobs", &p.jobs, pr.jobs)
				set("completions", &p.completions, pr.completions)
				set("parallelism", &p.parallelism, pr.parallelism)
				set("ceiling-puts", &p.ceilingPuts, pr.ceilingPuts)
				set("probe-nodes", &p.probeNodes, pr.probeNodes)
				if !fl.Changed("duration") {
					p.duration = pr.duration
				}
				if !fl.Changed("timeout") {
					p.timeout = pr.timeout
				}
			}
			lg, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = lg.Sync() }()
			ctx, cancel := signalContext()
			defer cancel()
			wait, err := observe.start(ctx, lg, metrics.NewRegistry(), nil)
			if err != nil {
				return err
			}
			defer func() { cancel(); wait() }()

			if dataDir == "" {
				if dataDir, err = os.MkdirTemp("", "drover-bench-"); err != nil {
					return err
				}
				defer os.RemoveAll(dataDir)
			}
			var eps []string
			var etcdMode string
			var stopEtcd func() (bench.Usage, error)
			switch {
			case endpoints != "" && etcdNice != 0:
				return fmt.Errorf("--etcd-nice applies to the etcd the bench starts, not to --etcd-endpoints")
			case endpoints != "":
				eps, etcdMode = splitList(endpoints), "external "+endpoints
			case etcdNice != 0 && (embedded || !fileExists(etcdBinary)):
				return fmt.Errorf("--etcd-nice needs etcd as its own process: build it with 'make etcd' (--etcd-binary %s)", etcdBinary)
			case !embedded && fileExists(etcdBinary):
				if etcdProcs < 0 {
					return fmt.Errorf("--etcd-gomaxprocs %d: must be 0 or more", etcdProcs)
				}
				e, err := bench.StartEtcd(ctx, etcdBinary, filepath.Join(dataDir, "etcd"), etcdNice, etcdProcs)
				if err != nil {
					return err
				}
				etcdMode = "separate process (" + etcdBinary
				if etcdNice != 0 {
					etcdMode += fmt.Sprintf(", nice %d", etcdNice)
				}
				if etcdProcs > 0 {
					etcdMode += fmt.Sprintf(", GOMAXPROCS %d", etcdProcs)
				}
				etcdMode += ")"
				eps, stopEtcd = []string{e.Endpoint()}, e.Stop
				defer func() {
					if stopEtcd != nil {
						_, _ = stopEtcd()
					}
				}()
			default:
				e, err := embedetcd.Start(embedetcd.Config{Dir: filepath.Join(dataDir, "etcd")})
				if err != nil {
					return err
				}
				defer e.Close()
				eps, etcdMode = []string{e.Endpoint()}, "embedded in the bench process"
			}
			startCtrl := bench.InProcessController
			if !inProcess {
				self, err := os.Executable()
				if err != nil {
					return err
				}
				var args []string
				if ctrlPprof != "" {
					args = append(args, "--pprof-listen", ctrlPprof)
				}
				startCtrl = bench.ProcessController(self, args...)
			}
			var startProbe func(context.Context, []string, int) (bench.Probe, error)
			if p.probeNodes > 0 {
				self, err := os.Executable()
				if err != nil {
					return err
				}
				startProbe = bench.ProcessProbe(self)
			}
			lg.Info("bench", zap.String("etcd", etcdMode), zap.Int("nodes", p.nodes), zap.Int("completions", p.completions))
			rep, err := bench.Run(ctx, bench.Config{
				Endpoints: eps, Nodes: p.nodes, Jobs: p.jobs, Completions: p.completions,
				Parallelism: p.parallelism, Duration: p.duration,
				CeilingPuts: p.ceilingPuts, StartController: startCtrl,
				NodesPerClient: nodesPerClient,
				ProbeNodes:     p.probeNodes, StartProbe: startProbe,
				Timeout: p.timeout, Logger: lg,
			})
			if err != nil {
				return err
			}
			rep.EtcdMode = etcdMode
			if stopEtcd != nil {
				rep.Etcd, err = stopEtcd()
				stopEtcd = nil
				if err != nil {
					return err
				}
			}
			if asJSON {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "", "throughput (100 nodes, 20,000 pods of zero duration, parallelism 2,000), scale (5,000 nodes, 150,000 pods in 30 Jobs) or ci (20 nodes, 1,000 pods); explicit flags override it")
	f.IntVar(&p.nodes, "nodes", 10, "hollow nodes")
	f.IntVar(&p.jobs, "jobs", 1, "Jobs sharing the completions")
	f.IntVar(&p.completions, "completions", 500, "pods in all")
	f.IntVar(&p.parallelism, "parallelism", 50, "parallelism of each Job")
	f.DurationVar(&p.duration, "duration", 0, "how long each pod runs")
	f.IntVar(&p.probeNodes, "probe-nodes", 0, "more hollow nodes in a process of their own, otherwise idle as a real worker's machine is: their renewal p99 is reported apart from the fleet's")
	f.IntVar(&nodesPerClient, "nodes-per-client", bench.DefaultNodesPerClient, "hollow nodes sharing one etcd client for watches and writes (and another for leases)")
	f.IntVar(&p.ceilingPuts, "ceiling-puts", bench.DefaultCeilingPuts, "puts of the storage ceiling measurement (negative: skip it)")
	f.DurationVar(&p.timeout, "timeout", 10*time.Minute, "give up if the Jobs have not completed by then")
	f.StringVar(&endpoints, "etcd-endpoints", "", "use this etcd instead of starting one (it must hold no namespace \"bench\")")
	f.IntVar(&etcdNice, "etcd-nice", 0, "scheduling priority of the etcd process (-20..19; below 0 needs root): e.g. -10 stands in for the CPU etcd has to itself in production")
	f.IntVar(&etcdProcs, "etcd-gomaxprocs", defaultFleetProcs(), "GOMAXPROCS of the etcd process the bench starts (0: the Go runtime's): more Ps than cores stand in for the cores etcd has to itself in production")
	f.StringVar(&etcdBinary, "etcd-binary", ".tools/bin/etcd", "etcd to run as a separate process (make etcd builds it)")
	f.BoolVar(&embedded, "embedded-etcd", false, "run etcd inside this process even if --etcd-binary exists")
	f.BoolVar(&inProcess, "in-process-controller", false, "run the controller inside this process (its CPU and RSS are then not reported)")
	f.StringVar(&ctrlPprof, "controller-pprof-listen", "", "pass --pprof-listen to the controller process, e.g. 127.0.0.1:6061")
	f.StringVar(&dataDir, "data-dir", "", "where etcd keeps its data (default a temporary directory, removed after)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.StringVar(&logLevel, "log-level", "info", "log level of progress messages (stderr)")
	procs.register(f)
	observe.register(f)
	rootCmd.AddCommand(cmd)
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
