package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-dev/drover/controller/queue"
	"github.com/drover-dev/drover/internal/metrics"
)

// Failed and panicking reconciles are counted per controller in
// drover_controller_reconcile_errors_total and
// drover_controller_reconcile_panics_total (issue 13 #9).
func TestReconcileErrorAndPanicCounters(t *testing.T) {
	m := metrics.NewController(metrics.NewRegistry())
	q := queue.New(clocktesting.NewFakeClock(time.Unix(0, 0))) // retries wait on a clock that never moves
	ctx, cancel := context.WithCancel(queue.WithObserver(context.Background(), queueMetrics{m}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		queue.Run(ctx, q, 1, zaptest.NewLogger(t).Named("flaky"), func(ctx context.Context, key string) (queue.Result, error) {
			switch key {
			case "panics":
				panic("boom")
			case "fails":
				return queue.Result{}, errors.New("etcdserver: request is too large")
			}
			return queue.Result{}, nil
		})
	}()
	for _, k := range []string{"fails", "panics", "ok"} {
		q.Add(k)
	}
	errs, panics := m.ReconcileErrors.WithLabelValues("flaky"), m.ReconcilePanics.WithLabelValues("flaky")
	deadline := time.Now().Add(30 * time.Second)
	for value(errs) < 2 || value(m.Reconciles.WithLabelValues("flaky", "ok")) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("errors_total %v, want 2", value(errs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := value(errs); got != 2 {
		t.Errorf("drover_controller_reconcile_errors_total{controller=flaky} %v, want 2", got)
	}
	if got := value(panics); got != 1 {
		t.Errorf("drover_controller_reconcile_panics_total{controller=flaky} %v, want 1", got)
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
