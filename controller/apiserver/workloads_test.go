package apiserver

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

func newTestServer(t *testing.T) *Server {
	cli, _ := etcdtest.Start(t)
	return New(store.New(cli), "test", clock.RealClock{}, zaptest.NewLogger(t))
}

func podTemplate(restart string) *v1.PodTemplateSpec {
	return &v1.PodTemplateSpec{
		Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:     &v1.PodSpec{RestartPolicy: restart, Containers: []*v1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}},
	}
}

func depJob(name string, deps ...string) *v1.Job {
	return &v1.Job{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.JobSpec{DependsOn: deps, Template: podTemplate("Never")}}
}

// SPEC J18: the Job that closes a dependency cycle is refused, naming
// spec.dependsOn; Jobs that only form a chain or diamond are accepted.
func TestDependencyCycleRejected(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	for _, j := range []*v1.Job{depJob("a", "c"), depJob("b", "a"), depJob("d", "a", "b")} {
		if _, err := s.CreateJob(ctx, &v1.CreateJobRequest{Job: j}); err != nil {
			t.Fatalf("create %s: %v", j.Metadata.Name, err)
		}
	}
	_, err := s.CreateJob(ctx, &v1.CreateJobRequest{Job: depJob("c", "b")})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.dependsOn: dependency cycle: c -> b -> a -> c") {
		t.Fatalf("cycle: %v", err)
	}
	if _, err := s.GetJob(ctx, &v1.GetJobRequest{Name: "c"}); status.Code(err) != codes.NotFound {
		t.Fatalf("refused job stored: %v", err)
	}
	if _, err := s.CreateJob(ctx, &v1.CreateJobRequest{Job: depJob("c")}); err != nil {
		t.Fatalf("c without deps: %v", err)
	}
}

// SPEC C1, O4: CronJobs are defaulted, validated and stored; a CRON_TZ
// prefix is refused naming spec.schedule; updates keep status.
func TestCronJobCRUD(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cj := &v1.CronJob{Metadata: &v1.ObjectMeta{Name: "tick"}, Spec: &v1.CronJobSpec{
		Schedule:    "CRON_TZ=UTC * * * * *",
		JobTemplate: &v1.JobTemplateSpec{Spec: &v1.JobSpec{Template: podTemplate("Never")}},
	}}
	if _, err := s.CreateCronJob(ctx, &v1.CreateCronJobRequest{CronJob: cj}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.schedule") {
		t.Fatalf("prefix: %v", err)
	}
	cj.Spec.Schedule = "* * * * *"
	got, err := s.CreateCronJob(ctx, &v1.CreateCronJobRequest{CronJob: cj})
	if err != nil {
		t.Fatal(err)
	}
	if got.CronJob.Metadata.Uid == "" || got.CronJob.Spec.ConcurrencyPolicy != "Allow" || got.CronJob.Spec.GetSuccessfulJobsHistoryLimit() != 3 {
		t.Fatalf("defaults: %v", got.CronJob)
	}
	stored, err := s.GetCronJob(ctx, &v1.GetCronJobRequest{Name: "tick"})
	if err != nil {
		t.Fatal(err)
	}
	upd := stored.CronJob
	upd.Spec.Suspend = new(bool)
	*upd.Spec.Suspend = true
	u, err := s.UpdateCronJob(ctx, &v1.UpdateCronJobRequest{CronJob: upd})
	if err != nil || !u.CronJob.Spec.GetSuspend() || u.CronJob.Metadata.Generation != 2 {
		t.Fatalf("update: %v %v", u, err)
	}
	l, err := s.ListCronJobs(ctx, &v1.ListCronJobsRequest{})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}
	if _, err := s.DeleteCronJob(ctx, &v1.DeleteCronJobRequest{Name: "tick"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCronJob(ctx, &v1.GetCronJobRequest{Name: "tick"}); status.Code(err) != codes.NotFound {
		t.Fatalf("after delete: %v", err)
	}
}

// SPEC D1, D2, O4: DaemonSets are defaulted and validated; the selector is
// immutable; a template change raises the generation.
func TestDaemonSetCRUD(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	ds := &v1.DaemonSet{Metadata: &v1.ObjectMeta{Name: "agent"}, Spec: &v1.DaemonSetSpec{
		Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
		Template: podTemplate(""),
	}}
	got, err := s.CreateDaemonSet(ctx, &v1.CreateDaemonSetRequest{DaemonSet: ds})
	if err != nil {
		t.Fatal(err)
	}
	if got.DaemonSet.Spec.Template.Spec.RestartPolicy != "Always" || got.DaemonSet.Spec.UpdateStrategy.RollingUpdate.GetMaxUnavailable() != "1" {
		t.Fatalf("defaults: %v", got.DaemonSet.Spec)
	}
	upd := got.DaemonSet
	upd.Metadata.ResourceVersion = ""
	upd.Spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{"app": "y"}}
	if _, err := s.UpdateDaemonSet(ctx, &v1.UpdateDaemonSetRequest{DaemonSet: upd}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("selector change: %v", err)
	}
	upd.Spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	upd.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	u, err := s.UpdateDaemonSet(ctx, &v1.UpdateDaemonSetRequest{DaemonSet: upd})
	if err != nil || u.DaemonSet.Metadata.Generation != 2 {
		t.Fatalf("update: %v %v", u, err)
	}
	if _, err := s.DeleteDaemonSet(ctx, &v1.DeleteDaemonSetRequest{Name: "agent"}); err != nil {
		t.Fatal(err)
	}
}

// SPEC J12 for DaemonSets and CronJobs: an Orphan delete removes the owner
// reference from what the object owns, so the garbage collector leaves it;
// an unknown policy is refused and deletes nothing.
func TestWorkloadOrphanDelete(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	ds, err := s.CreateDaemonSet(ctx, &v1.CreateDaemonSetRequest{DaemonSet: &v1.DaemonSet{Metadata: &v1.ObjectMeta{Name: "agent"}, Spec: &v1.DaemonSetSpec{
		Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, Template: podTemplate(""),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	uid := ds.DaemonSet.Metadata.Uid
	pod := &v1.Pod{Metadata: &v1.ObjectMeta{Name: "agent-1", Namespace: "default", OwnerReferences: []*v1.OwnerReference{{Kind: "DaemonSet", Name: "agent", Uid: uid}}}}
	if _, err := s.st.Pods().Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteDaemonSet(ctx, &v1.DeleteDaemonSetRequest{Name: "agent", Options: &v1.DeleteOptions{PropagationPolicy: "Sometimes"}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad policy: %v", err)
	}
	if _, err := s.DeleteDaemonSet(ctx, &v1.DeleteDaemonSetRequest{Name: "agent", Options: &v1.DeleteOptions{PropagationPolicy: "Orphan"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.st.Pods().Get(ctx, "default", "agent-1")
	if err != nil || len(got.Metadata.OwnerReferences) != 0 {
		t.Fatalf("pod after orphan delete: %v %v", got, err)
	}
	if _, err := s.GetDaemonSet(ctx, &v1.GetDaemonSetRequest{Name: "agent"}); status.Code(err) != codes.NotFound {
		t.Fatalf("daemonset not deleted: %v", err)
	}
}
