package client_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

// CronJobs and DaemonSets through the SDK against a real replica (I1, C1, D1).
func TestCronJobAndDaemonSetClients(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctl, err := controller.New(controller.Config{Etcd: cli, Listen: "127.0.0.1:0", Identity: "t", ElectionTTL: 2 * time.Second, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(rctx) }()
	defer func() { stop(); <-done }()
	c, err := client.New(ctx, ctl.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	tmpl := &v1.PodTemplateSpec{Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec: &v1.PodSpec{Containers: []*v1.Container{{Name: "c", Image: "x", Command: []string{"true"}}}}}
	w, err := c.CronJobs("default").Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cjTmpl := proto.Clone(tmpl).(*v1.PodTemplateSpec)
	cjTmpl.Spec.RestartPolicy = "Never"
	cj, err := c.CronJobs("default").Create(ctx, &v1.CronJob{Metadata: &v1.ObjectMeta{Name: "nightly"},
		Spec: &v1.CronJobSpec{Schedule: "@daily", JobTemplate: &v1.JobTemplateSpec{Spec: &v1.JobSpec{Template: cjTmpl}}}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := w.Recv()
	if err != nil || ev.Object.GetMetadata().GetName() != "nightly" {
		t.Fatalf("watch: %v %v", ev, err)
	}
	cj.Spec.Suspend = proto.Bool(true)
	if cj, err = c.CronJobs("default").Update(ctx, cj); err != nil || !cj.Spec.GetSuspend() {
		t.Fatalf("update: %v", err)
	}
	if l, err := c.CronJobs("").List(ctx, client.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Fatalf("list: %v", err)
	}
	if _, err := c.CronJobs("default").Delete(ctx, "nightly", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CronJobs("default").Get(ctx, "nightly"); !client.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}

	ds, err := c.DaemonSets("default").Create(ctx, &v1.DaemonSet{Metadata: &v1.ObjectMeta{Name: "agent"},
		Spec: &v1.DaemonSetSpec{Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}, Template: tmpl}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.DaemonSets("default").Get(ctx, "agent"); err != nil || got.GetMetadata().GetUid() != ds.GetMetadata().GetUid() {
		t.Fatalf("get: %v", err)
	}
	if _, err := c.DaemonSets("default").Create(ctx, ds); !client.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v", err)
	}
}
