package bench

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drover-dev/drover/internal/metrics"
)

// TestHistogramSince: renewals are counted over the Job run only, so the
// quiet minute before it does not pull the tail down.
func TestHistogramSince(t *testing.T) {
	wm := metrics.NewWorker(metrics.NewRegistry())
	for range 1000 {
		wm.RenewSeconds.Observe(0.001) // before the run: fast
	}
	before := histogramOf(wm.RenewSeconds)
	for range 90 {
		wm.RenewSeconds.Observe(0.001)
	}
	for range 10 {
		wm.RenewSeconds.Observe(0.5) // during the run: a slow tenth
	}
	run := histogramSince(histogramOf(wm.RenewSeconds), before)
	if run.GetSampleCount() != 100 {
		t.Fatalf("renewals during the run: %d, want 100", run.GetSampleCount())
	}
	if p99 := metrics.DTOHistogramQuantile(run, 0.99); p99 < 0.256 || p99 > 0.512 {
		t.Errorf("p99 over the run %v s, want in the 0.5 s bucket (0.256, 0.512]", p99)
	}
	if all := metrics.HistogramQuantile(wm.RenewSeconds, 0.99); all > 0.002 {
		t.Errorf("p99 over everything %v s: the test's premise (the quiet part hides the tail) does not hold", all)
	}
}

// TestProbeReadsRenewals: the probe's histogram and failures are read back
// from its /metrics as a Prometheus scraper would.
func TestProbeReadsRenewals(t *testing.T) {
	reg := metrics.NewRegistry()
	wm := metrics.NewWorker(reg)
	for range 7 {
		wm.RenewSeconds.Observe(0.003)
	}
	wm.RenewFailures.Add(2)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go srv.Serve(lis)
	defer srv.Close()

	p := &probeProcess{&process{addr: lis.Addr().String()}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitProbeMetrics(ctx, p); err != nil {
		t.Fatal(err)
	}
	h, failures, err := p.Renewals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.GetSampleCount() != 7 || failures != 2 {
		t.Fatalf("read %d renewals and %v failures, want 7 and 2", h.GetSampleCount(), failures)
	}
	if p99 := metrics.DTOHistogramQuantile(h, 0.99); p99 <= 0.002 || p99 > 0.004 {
		t.Errorf("p99 %v s, want in the (2 ms, 4 ms] bucket", p99)
	}
}
