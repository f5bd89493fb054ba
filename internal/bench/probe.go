package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/drover-dev/drover/internal/metrics"
)

// Probe is a few hollow nodes in a process of their own, started beside the
// fleet: real nodes like the others (they get their share of the pods), but
// their process is otherwise idle, as a real worker's machine is, so their
// renewal latency is what etcd and the machine give a node, without the
// queueing inside the one process that hosts the whole fleet.
type Probe interface {
	// Renewals returns the probe's renewal histogram and failures so far.
	Renewals(ctx context.Context) (*dto.Histogram, float64, error)
	// Stop stops the probe and reports what its process used.
	Stop() (Usage, error)
}

// ProbeReport is what the probe nodes saw over the Job run.
type ProbeReport struct {
	Nodes         int     `json:"nodes"`
	Renewals      int64   `json:"heartbeatRenewals"`
	RenewP99Ms    float64 `json:"heartbeatRenewP99Ms"`
	RenewFailures int64   `json:"heartbeatFailures"`
	Usage         Usage   `json:"usage"`
}

// ProcessProbe returns a StartProbe that runs `<binary> hollow --nodes n
// --name-prefix probe-` as a child process, serving its metrics on a free
// loopback port.
func ProcessProbe(binary string) func(ctx context.Context, endpoints []string, nodes int) (Probe, error) {
	return func(ctx context.Context, endpoints []string, nodes int) (Probe, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		p, err := startProcess(binary, addr, "hollow", "--nodes", fmt.Sprint(nodes), "--name-prefix", "probe-",
			"--etcd-endpoints", strings.Join(endpoints, ","), "--metrics-listen", addr, "--log-level", "warn")
		if err != nil {
			return nil, err
		}
		return &probeProcess{process: p}, nil
	}
}

type probeProcess struct{ *process }

// renewMetric and failuresMetric are the worker metrics' exposed names.
const (
	renewMetric    = metrics.Namespace + "_worker_heartbeat_renew_duration_seconds"
	failuresMetric = metrics.Namespace + "_worker_heartbeat_failures_total"
)

func (p *probeProcess) Renewals(ctx context.Context) (*dto.Histogram, float64, error) {
	fams, err := scrape(ctx, "http://"+p.addr+"/metrics")
	if err != nil {
		return nil, 0, fmt.Errorf("bench: probe metrics: %w", err)
	}
	h := &dto.Histogram{}
	if f := fams[renewMetric]; f != nil && len(f.GetMetric()) > 0 {
		h = f.GetMetric()[0].GetHistogram()
	}
	var failures float64
	if f := fams[failuresMetric]; f != nil && len(f.GetMetric()) > 0 {
		failures = f.GetMetric()[0].GetCounter().GetValue()
	}
	return h, failures, nil
}

// scrape reads and parses a Prometheus text exposition at url.
func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// waitProbeMetrics waits until the probe serves its metrics.
func waitProbeMetrics(ctx context.Context, p Probe) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		_, _, err := p.Renewals(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// histogramSince is what histogram now holds beyond what it held at
// before (the same buckets, counts cumulative).
func histogramSince(now, before *dto.Histogram) *dto.Histogram {
	out := &dto.Histogram{SampleCount: new(uint64), SampleSum: new(float64)}
	*out.SampleCount = now.GetSampleCount() - before.GetSampleCount()
	*out.SampleSum = now.GetSampleSum() - before.GetSampleSum()
	prev := map[float64]uint64{}
	for _, b := range before.GetBucket() {
		prev[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for _, b := range now.GetBucket() {
		n := b.GetCumulativeCount() - prev[b.GetUpperBound()]
		ub := b.GetUpperBound()
		out.Bucket = append(out.Bucket, &dto.Bucket{UpperBound: &ub, CumulativeCount: &n})
	}
	return out
}
