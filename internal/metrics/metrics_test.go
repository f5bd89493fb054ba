package metrics

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHandlerServesSeriesAndHealth(t *testing.T) {
	reg := NewRegistry()
	cm := NewController(reg)
	wm := NewWorker(reg)
	cm.ObserveReconcile("job", 3*time.Millisecond, nil)
	cm.ObserveReconcile("job", time.Millisecond, errors.New("conflict"))
	cm.SetQueueDepth("job", func() int { return 7 })
	cm.PodsCreated.Add(3)
	cm.PodsBound.Add(2)
	wm.RenewSeconds.Observe(0.004)
	wm.RenewFailures.Inc()
	wm.RunningPods.Set(5)

	ready := errors.New("etcd unreachable")
	srv := httptest.NewServer(Handler(reg, func(context.Context) error { return ready }))
	defer srv.Close()

	code, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, series := range []string{
		`drover_controller_reconcile_total{controller="job",result="ok"} 1`,
		`drover_controller_reconcile_total{controller="job",result="error"} 1`,
		`drover_controller_reconcile_duration_seconds_count{controller="job"} 2`,
		`drover_controller_workqueue_depth{controller="job"} 7`,
		`drover_controller_pods_created_total 3`,
		`drover_scheduler_pods_bound_total 2`,
		`drover_worker_heartbeat_renew_duration_seconds_count 1`,
		`drover_worker_heartbeat_failures_total 1`,
		`drover_worker_running_pods 5`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %q", series)
		}
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "etcd unreachable") {
		t.Errorf("/readyz while not ready: %d %q", code, body)
	}
	ready = nil
	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready: %d", code)
	}
	// A new leadership term replaces the queue's gauge instead of failing.
	cm.SetQueueDepth("job", func() int { return 1 })
	if _, body := get(t, srv.URL+"/metrics"); !strings.Contains(body, `drover_controller_workqueue_depth{controller="job"} 1`) {
		t.Error("queue depth not replaced")
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Buckets: []float64{0.01, 0.1, 1}})
	if !math.IsNaN(HistogramQuantile(h, 0.99)) {
		t.Fatal("empty histogram should give NaN")
	}
	for range 98 {
		h.Observe(0.005) // bucket <= 0.01
	}
	h.Observe(0.05)
	h.Observe(0.5)
	if q := HistogramQuantile(h, 0.5); q <= 0 || q > 0.01 {
		t.Errorf("p50 %v, want in (0, 0.01]", q)
	}
	if q := HistogramQuantile(h, 0.99); q <= 0.01 || q > 0.1 {
		t.Errorf("p99 %v, want in (0.01, 0.1]", q)
	}
	if q := HistogramQuantile(h, 1); q <= 0.1 || q > 1 {
		t.Errorf("p100 %v, want in (0.1, 1]", q)
	}
}
