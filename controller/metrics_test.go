package controller_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/internal/etcdtest"
	"github.com/drover-dev/drover/internal/metrics"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// A leader with Config.Metrics reports its reconciles per controller, its
// queues' depth, the pods it created and bound (a 6-pod Job: exactly 6 of
// each), that it leads, and is ready (API serving, etcd answering).
func TestControllerMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	c := startCluster(t, func(cfg *controller.Config) { cfg.Metrics = metrics.NewController(reg) })
	c.simNode("n1", 10*time.Millisecond, nil)
	if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: testJob("m", 6, 3)}); err != nil {
		t.Fatal(err)
	}
	c.waitJob("m", "Complete", 30*time.Second)

	srv := httptest.NewServer(metrics.Handler(reg, nil))
	defer srv.Close()
	scrape := func() string {
		resp, err := srv.Client().Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := scrape()
		var missing []string
		for _, s := range []string{
			`drover_controller_pods_created_total 6`,
			`drover_scheduler_pods_bound_total 6`,
			`drover_controller_leading 1`,
			`drover_controller_reconcile_total{controller="job",result="ok"}`,
			`drover_controller_reconcile_total{controller="scheduler",result="ok"}`,
			`drover_controller_reconcile_duration_seconds_count{controller="job"}`,
			`drover_controller_workqueue_depth{controller="job"}`,
			`drover_controller_workqueue_depth{controller="node"}`,
		} {
			if !strings.Contains(body, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Ready fails before Run serves the API, is nil while it does and etcd
// answers, and fails again once Run has returned.
func TestControllerReady(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	c, err := controller.New(controller.Config{Etcd: cli, Listen: "127.0.0.1:0", Identity: "ready"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err == nil {
		t.Fatal("ready before Run")
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(runCtx) }()
	for c.Ready(ctx) != nil {
		if ctx.Err() != nil {
			t.Fatalf("never ready: %v", c.Ready(context.Background()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	if err := c.Ready(ctx); err == nil {
		t.Fatal("ready after Run returned")
	}
}
