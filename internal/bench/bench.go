package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/internal/metrics"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/worker/runtime/fake"
)

// Storage ceiling defaults: raw etcd puts of 1 KiB values by 64 clients.
const (
	DefaultCeilingPuts    = 20000
	DefaultCeilingClients = 64
	ceilingValueSize      = 1024
	ceilingPrefix         = "/bench-ceiling/"
)

// Namespace is where the bench's Jobs run.
const Namespace = "bench"

// Config is one bench run.
type Config struct {
	// Endpoints are etcd's client URLs (required); the etcd should be
	// empty, or at least hold no Jobs in Namespace.
	Endpoints []string
	// Nodes hollow nodes run the pods.
	Nodes int
	// Jobs share Completions pods between them (default 1 Job).
	Jobs int
	// Completions is the total number of pods; Parallelism applies to
	// each Job; Duration is how long each pod runs.
	Completions, Parallelism int
	Duration                 time.Duration
	// CeilingPuts and CeilingClients size the storage ceiling measurement
	// (defaults 20,000 and 64); CeilingPuts < 0 skips it.
	CeilingPuts, CeilingClients int
	// HeartbeatInterval and LeaseTTL of the hollow nodes (default N1's).
	HeartbeatInterval, LeaseTTL time.Duration
	// NodesPerClient hollow nodes share an etcd client (default 500).
	NodesPerClient int
	// StartController starts the controller under test against the
	// endpoints (required; see InProcessController and the drover
	// command's process controller).
	StartController func(ctx context.Context, endpoints []string) (Controller, error)
	// ProbeNodes more hollow nodes run in a process of their own, started
	// by StartProbe (none when either is unset): see Probe.
	ProbeNodes int
	StartProbe func(ctx context.Context, endpoints []string, nodes int) (Probe, error)
	// Timeout bounds the Job run (default 10 minutes).
	Timeout time.Duration
	// Logger gets progress messages (default none).
	Logger *zap.Logger
}

// Controller is a controller under test.
type Controller interface {
	// Addr is its API address.
	Addr() string
	// Stop stops it and reports what it used.
	Stop() (Usage, error)
}

// Usage is the resources a process used.
type Usage struct {
	// CPUSeconds is user + system CPU time.
	CPUSeconds float64 `json:"cpuSeconds"`
	// PeakRSSBytes is the peak resident set size.
	PeakRSSBytes int64 `json:"peakRssBytes"`
	// How says how it was measured.
	How string `json:"how"`
}

// Report is what a run measured. Counts are exact; rates and latencies
// are measurements.
type Report struct {
	Nodes       int     `json:"nodes"`
	Jobs        int     `json:"jobs"`
	Completions int     `json:"completions"`
	Parallelism int     `json:"parallelism"`
	PodDuration string  `json:"podDuration"`
	Ceiling     Ceiling `json:"storageCeiling"`

	// WallSeconds is from the first Job's creation to the last one's
	// Complete condition.
	WallSeconds float64 `json:"wallSeconds"`
	// Succeeded and Failed sum the Jobs' status; Pods counts pod objects.
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Pods      int   `json:"pods"`
	// PodsPerSecond is Succeeded / WallSeconds.
	PodsPerSecond float64 `json:"completedPodsPerSecond"`
	// Revisions is the etcd revision delta over the run (one per
	// transaction or put); KeyWrites counts every key put or deleted
	// (KeyWritesHow says how: etcd's own counters, or a watch), so a
	// batched transaction counts once in Revisions and once per key in
	// KeyWrites.
	Revisions       int64   `json:"etcdRevisions"`
	KeyWrites       int64   `json:"etcdKeyWrites"`
	KeyWritesHow    string  `json:"etcdKeyWritesHow"`
	RevisionsPerPod float64 `json:"etcdWritesPerPod"`
	KeyWritesPerPod float64 `json:"etcdKeyWritesPerPod"`
	// WriteRate is Revisions / WallSeconds, and CeilingRatio that over
	// the storage ceiling's puts per second.
	WriteRate    float64 `json:"etcdWritesPerSecond"`
	CeilingRatio float64 `json:"ceilingRatio"`
	// StartP50 and StartP99 are pod start latency (creationTimestamp to
	// status.startTime), milliseconds.
	StartP50Ms float64 `json:"podStartP50Ms"`
	StartP99Ms float64 `json:"podStartP99Ms"`
	// Renewals counts the lease renewals over the run (registrations
	// excluded); RenewP99Ms estimates their p99 from the histogram (0
	// when there were none: a run shorter than the heartbeat interval).
	Renewals      int64   `json:"heartbeatRenewals"`
	RenewP99Ms    float64 `json:"heartbeatRenewP99Ms"`
	RenewFailures int64   `json:"heartbeatFailures"`
	Fences        int64   `json:"fences"`
	// NodesNotReady counts nodes the controller declared NotReady (lost)
	// by the end; PodsDisrupted the pods failed for a lost node.
	NodesNotReady int `json:"nodesNotReady"`
	PodsDisrupted int `json:"podsDisrupted"`

	// Probe is what the probe nodes saw (nil without a probe).
	Probe *ProbeReport `json:"probe,omitempty"`

	Controller Usage `json:"controller"`
	// Etcd is set by a caller that ran etcd as its own process.
	Etcd Usage `json:"etcd"`
	// EtcdMode says how etcd ran (set by the caller).
	EtcdMode string `json:"etcdMode,omitempty"`
	// Bench is this process (hollow nodes, client, and etcd when
	// embedded) over the Job run.
	Bench Usage `json:"benchProcess"`
	// SchedP99Ms is the p99 of how long a runnable goroutine of this
	// process waited to run during the Job run (the Go runtime's
	// /sched/latencies:seconds, rounded up to its bucket): the queueing
	// inside the process that hosts the fleet, which every renewal of its
	// nodes waits out on top of etcd's answer.
	SchedP99Ms float64 `json:"benchSchedLatencyP99Ms"`
	// GoMaxProcs is this process's GOMAXPROCS during the run.
	GoMaxProcs int `json:"benchGoMaxProcs"`
}

// Ceiling is the raw etcd put rate.
type Ceiling struct {
	Puts          int     `json:"puts"`
	Clients       int     `json:"clients"`
	ValueBytes    int     `json:"valueBytes"`
	Seconds       float64 `json:"seconds"`
	PutsPerSecond float64 `json:"putsPerSecond"`
}

// Run measures the storage ceiling, starts the controller and the hollow
// nodes, runs the Jobs to completion and reports. It stops everything it
// started before returning.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Nodes <= 0 || cfg.Completions <= 0 || cfg.Parallelism <= 0 {
		return nil, errors.New("bench: nodes, completions and parallelism must be positive")
	}
	if cfg.StartController == nil {
		return nil, errors.New("bench: no controller")
	}
	if cfg.Jobs <= 0 {
		cfg.Jobs = 1
	}
	if cfg.Jobs > cfg.Completions {
		return nil, fmt.Errorf("bench: %d jobs for %d pods", cfg.Jobs, cfg.Completions)
	}
	if cfg.CeilingPuts == 0 {
		cfg.CeilingPuts = DefaultCeilingPuts
	}
	if cfg.CeilingClients <= 0 {
		cfg.CeilingClients = DefaultCeilingClients
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	lg := cfg.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	rep := &Report{Nodes: cfg.Nodes, Jobs: cfg.Jobs, Completions: cfg.Completions, Parallelism: cfg.Parallelism,
		PodDuration: cfg.Duration.String(), GoMaxProcs: runtime.GOMAXPROCS(0)}

	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("bench: etcd: %w", err)
	}
	defer cli.Close()

	if cfg.CeilingPuts > 0 {
		lg.Info("measuring the storage ceiling", zap.Int("puts", cfg.CeilingPuts), zap.Int("clients", cfg.CeilingClients))
		if rep.Ceiling, err = measureCeiling(ctx, cfg.Endpoints, cfg.CeilingPuts, cfg.CeilingClients); err != nil {
			return nil, err
		}
	}

	lg.Info("starting the controller")
	ctrl, err := cfg.StartController(ctx, cfg.Endpoints)
	if err != nil {
		return nil, fmt.Errorf("bench: controller: %w", err)
	}
	ctrlStopped := false
	defer func() {
		if !ctrlStopped {
			_, _ = ctrl.Stop()
		}
	}()

	reg := metrics.NewRegistry()
	wm := metrics.NewWorker(reg)
	fleet, err := NewFleet(FleetConfig{
		Endpoints: cfg.Endpoints, Nodes: cfg.Nodes,
		HeartbeatInterval: cfg.HeartbeatInterval, LeaseTTL: cfg.LeaseTTL,
		NodesPerClient: cfg.NodesPerClient,
		Fake:           fake.Config{Duration: cfg.Duration}, Metrics: wm,
		Logger: lg.WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
	})
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	fctx, cancelFleet := context.WithCancel(ctx)
	fleetDone := make(chan struct{})
	go func() { defer close(fleetDone); _ = fleet.Run(fctx) }()
	stopFleet := sync.OnceFunc(func() { cancelFleet(); <-fleetDone })
	defer stopFleet()
	lg.Info("starting hollow nodes", zap.Int("nodes", cfg.Nodes))
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = fleet.WaitReady(rctx)
	cancel()
	if err != nil {
		return nil, err
	}

	api, err := client.New(ctx, ctrl.Addr(), client.WithDialTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("bench: api: %w", err)
	}
	defer api.Close()
	var probe Probe
	if cfg.ProbeNodes > 0 && cfg.StartProbe != nil {
		lg.Info("starting probe nodes in their own process", zap.Int("nodes", cfg.ProbeNodes))
		if probe, err = cfg.StartProbe(ctx, cfg.Endpoints, cfg.ProbeNodes); err != nil {
			return nil, fmt.Errorf("bench: probe: %w", err)
		}
		defer func() {
			if probe != nil {
				_, _ = probe.Stop()
			}
		}()
		if err := waitProbeMetrics(ctx, probe); err != nil {
			return nil, err
		}
	} else {
		cfg.ProbeNodes = 0
	}
	if err := waitNodesLive(ctx, cli, cfg.Nodes+cfg.ProbeNodes); err != nil {
		return nil, err
	}

	// Count every key write from here on.
	startResp, err := cli.Get(ctx, "/drover/leader/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	rev0 := startResp.Header.Revision
	keyWrites := startKeyWrites(ctx, cli, cfg.Endpoints, rev0)
	rep.KeyWritesHow = keyWrites.how()
	var self0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	// Renewals are counted over the Job run only: the idle minute of
	// registration before it would pull the tail down.
	renew0 := histogramOf(wm.RenewSeconds)
	sched0 := schedLatency()
	var probeRenew0 *dto.Histogram
	var probeFailures0 float64
	if probe != nil {
		if probeRenew0, probeFailures0, err = probe.Renewals(ctx); err != nil {
			return nil, err
		}
	}

	lg.Info("submitting jobs", zap.Int("jobs", cfg.Jobs), zap.Int("completions", cfg.Completions))
	runCtx, cancelRun := context.WithTimeout(ctx, cfg.Timeout)
	defer cancelRun()
	start := time.Now()
	names := make([]string, cfg.Jobs)
	for i := range cfg.Jobs {
		n := cfg.Completions / cfg.Jobs
		if i < cfg.Completions%cfg.Jobs {
			n++
		}
		names[i] = fmt.Sprintf("bench-%d", i+1)
		if _, err := api.Jobs(Namespace).Create(runCtx, benchJob(names[i], n, cfg.Parallelism, cfg.Duration)); err != nil {
			return nil, fmt.Errorf("bench: create job: %w", err)
		}
	}
	jobs, err := waitComplete(runCtx, api, names, lg)
	if err != nil {
		return nil, err
	}
	wall := time.Since(start)
	endResp, err := cli.Get(ctx, "/drover/leader/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var self1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	rep.SchedP99Ms = quantileSince(schedLatency(), sched0, 0.99) * 1000
	if rep.KeyWrites, err = keyWrites.stop(ctx, endResp.Header.Revision); err != nil {
		return nil, err
	}

	rep.WallSeconds = wall.Seconds()
	for _, j := range jobs {
		rep.Succeeded += int64(j.GetStatus().GetSucceeded())
		rep.Failed += int64(j.GetStatus().GetFailed())
	}
	rep.PodsPerSecond = float64(rep.Succeeded) / rep.WallSeconds
	rep.Revisions = endResp.Header.Revision - rev0
	rep.RevisionsPerPod = float64(rep.Revisions) / float64(cfg.Completions)
	rep.KeyWritesPerPod = float64(rep.KeyWrites) / float64(cfg.Completions)
	rep.WriteRate = float64(rep.Revisions) / rep.WallSeconds
	if rep.Ceiling.PutsPerSecond > 0 {
		rep.CeilingRatio = rep.WriteRate / rep.Ceiling.PutsPerSecond
	}
	rep.Bench = Usage{
		CPUSeconds:   tv(self1.Utime) + tv(self1.Stime) - tv(self0.Utime) - tv(self0.Stime),
		PeakRSSBytes: self1.Maxrss * 1024,
		How:          "getrusage(RUSAGE_SELF) over the Job run; peak RSS over the whole process",
	}
	if err := podStats(ctx, store.New(cli), rep); err != nil {
		return nil, err
	}
	if err := nodeStats(ctx, store.New(cli), rep); err != nil {
		return nil, err
	}
	renew := histogramSince(histogramOf(wm.RenewSeconds), renew0)
	rep.Renewals = int64(renew.GetSampleCount())
	if rep.Renewals > 0 {
		rep.RenewP99Ms = metrics.DTOHistogramQuantile(renew, 0.99) * 1000
	}
	rep.RenewFailures = int64(counterValue(wm.RenewFailures))
	rep.Fences = int64(counterValue(wm.Fences))
	if probe != nil {
		h, failures, err := probe.Renewals(ctx)
		if err != nil {
			return nil, err
		}
		h = histogramSince(h, probeRenew0)
		pr := &ProbeReport{Nodes: cfg.ProbeNodes, Renewals: int64(h.GetSampleCount()),
			RenewFailures: int64(failures - probeFailures0)}
		if pr.Renewals > 0 {
			pr.RenewP99Ms = metrics.DTOHistogramQuantile(h, 0.99) * 1000
		}
		p := probe
		probe = nil
		if pr.Usage, err = p.Stop(); err != nil {
			return nil, fmt.Errorf("bench: stop probe: %w", err)
		}
		rep.Probe = pr
	}

	stopFleet()
	ctrlStopped = true
	if rep.Controller, err = ctrl.Stop(); err != nil {
		return nil, fmt.Errorf("bench: stop controller: %w", err)
	}
	return rep, nil
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// histogramOf is h as exposed.
func histogramOf(h prometheus.Histogram) *dto.Histogram {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return &dto.Histogram{}
	}
	return m.GetHistogram()
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// benchJob is a Job of n pods on the fake runtime, each running d.
func benchJob(name string, n, parallelism int, d time.Duration) *v1.Job {
	return &v1.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &v1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec: &v1.JobSpec{
			Completions: proto.Int32(int32(n)), Parallelism: proto.Int32(int32(min(parallelism, n))),
			BackoffLimit: proto.Int32(0),
			Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
				RestartPolicy: "Never",
				Containers: []*v1.Container{{
					Name: "pod", Image: "fake", Command: []string{"true"},
					Env: []*v1.EnvVar{{Name: fake.EnvDuration, Value: d.String()}},
				}},
			}},
		},
	}
}

// waitNodesLive waits until etcd holds n liveness keys.
func waitNodesLive(ctx context.Context, cli *clientv3.Client, n int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		resp, err := cli.Get(ctx, store.HeartbeatsPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err == nil && resp.Count >= int64(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for %d live nodes: %w", n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitComplete polls the Jobs until every one has condition Complete (or
// one Failed) and returns them.
func waitComplete(ctx context.Context, api *client.Client, names []string, lg *zap.Logger) ([]*v1.Job, error) {
	done := map[string]*v1.Job{}
	lastLog := time.Now()
	for {
		var succeeded int64
		for _, name := range names {
			if done[name] != nil {
				succeeded += int64(done[name].GetStatus().GetSucceeded())
				continue
			}
			j, err := api.Jobs(Namespace).Get(ctx, name)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("bench: jobs not complete: %w", ctx.Err())
				}
				continue
			}
			succeeded += int64(j.GetStatus().GetSucceeded())
			for _, c := range j.GetStatus().GetConditions() {
				if c.GetStatus() != "True" {
					continue
				}
				switch c.GetType() {
				case "Complete":
					done[name] = j
				case "Failed":
					return nil, fmt.Errorf("bench: job %s failed: %s", name, c.GetMessage())
				}
			}
		}
		if len(done) == len(names) {
			out := make([]*v1.Job, 0, len(names))
			for _, n := range names {
				out = append(out, done[n])
			}
			return out, nil
		}
		if time.Since(lastLog) > 5*time.Second {
			lg.Info("progress", zap.Int64("succeeded", succeeded), zap.Int("jobs_complete", len(done)))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bench: jobs not complete (%d succeeded): %w", succeeded, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// podStats reads every pod of the run: their number, start latencies and
// disruptions.
func podStats(ctx context.Context, st *store.Store, rep *Report) error {
	var lat []float64
	cont, rev := "", int64(0)
	for {
		pods, r, next, err := st.Pods().ListPage(ctx, Namespace, 5000, cont, rev)
		if err != nil {
			return fmt.Errorf("bench: list pods: %w", err)
		}
		rev = r
		for _, p := range pods {
			rep.Pods++
			if c := p.GetMetadata().GetCreationTimestamp(); c != nil && p.GetStatus().GetStartTime() != nil {
				lat = append(lat, float64(p.GetStatus().GetStartTime().AsTime().Sub(c.AsTime()))/float64(time.Millisecond))
			}
			for _, c := range p.GetStatus().GetConditions() {
				if c.GetType() == "DisruptionTarget" && c.GetStatus() == "True" {
					rep.PodsDisrupted++
				}
			}
		}
		if next == "" {
			break
		}
		cont = next
	}
	rep.StartP50Ms = quantile(lat, 0.5)
	rep.StartP99Ms = quantile(lat, 0.99)
	return nil
}

// nodeStats counts the nodes that are not Ready.
func nodeStats(ctx context.Context, st *store.Store, rep *Report) error {
	nodes, _, err := st.Nodes().List(ctx, "")
	if err != nil {
		return fmt.Errorf("bench: list nodes: %w", err)
	}
	for _, n := range nodes {
		for _, c := range n.GetStatus().GetConditions() {
			if c.GetType() == "Ready" && c.GetStatus() != "True" {
				rep.NodesNotReady++
			}
		}
	}
	return nil
}

// quantile is the q-quantile of xs by the nearest-rank method (0 if empty:
// the report is JSON, which has no NaN).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// measureCeiling puts n 1 KiB values from clients concurrent etcd clients
// and returns the rate; the keys are deleted afterwards.
func measureCeiling(ctx context.Context, endpoints []string, n, clients int) (Ceiling, error) {
	clis := make([]*clientv3.Client, clients)
	defer func() {
		for _, c := range clis {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clis {
		c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return Ceiling{}, fmt.Errorf("bench: ceiling client: %w", err)
		}
		clis[i] = c
	}
	val := string(make([]byte, ceilingValueSize))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for _, c := range clis {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if _, err := c.Put(ctx, ceilingPrefix+strconv.FormatInt(i, 10), val); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return Ceiling{}, fmt.Errorf("bench: ceiling put: %w", err)
	}
	if _, err := clis[0].Delete(ctx, ceilingPrefix, clientv3.WithPrefix()); err != nil {
		return Ceiling{}, fmt.Errorf("bench: ceiling cleanup: %w", err)
	}
	return Ceiling{Puts: n, Clients: clients, ValueBytes: ceilingValueSize, Seconds: elapsed.Seconds(),
		PutsPerSecond: float64(n) / elapsed.Seconds()}, nil
}
