package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func fixtureCronJob(name, schedule, tz string, suspend bool) *v1.CronJob {
	cj := &v1.CronJob{
		Metadata: &v1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: ago(3 * time.Hour)},
		Spec: &v1.CronJobSpec{
			Schedule: schedule, ConcurrencyPolicy: "Forbid", Suspend: proto.Bool(suspend),
			SuccessfulJobsHistoryLimit: proto.Int32(3), FailedJobsHistoryLimit: proto.Int32(1),
			JobTemplate: &v1.JobTemplateSpec{Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
				RestartPolicy: "OnFailure", Containers: []*v1.Container{{Name: "backup", Image: "busybox:1.36", Command: []string{"sh", "-c", "date"}}},
			}}}},
		},
		Status: &v1.CronJobStatus{LastScheduleTime: ago(17 * time.Minute), LastSuccessfulTime: ago(16 * time.Minute),
			Active: []*v1.ObjectReference{{Kind: "Job", Name: name + "-28585923"}}},
	}
	if tz != "" {
		cj.Spec.TimeZone = &tz
	}
	return cj
}

func fixtureDaemonSet() *v1.DaemonSet {
	return &v1.DaemonSet{
		Metadata: &v1.ObjectMeta{Name: "agent", Namespace: "default", Uid: "uid-agent", CreationTimestamp: ago(2 * time.Hour), Generation: 2},
		Spec: &v1.DaemonSetSpec{
			Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &v1.PodTemplateSpec{
				Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: &v1.PodSpec{NodeSelector: map[string]string{"disk": "ssd"}, RestartPolicy: "Always",
					Containers: []*v1.Container{{Name: "agent", Image: "agent:2"}}},
			},
			UpdateStrategy:  &v1.DaemonSetUpdateStrategy{Type: "RollingUpdate", RollingUpdate: &v1.RollingUpdateDaemonSet{MaxUnavailable: proto.String("1"), MaxSurge: proto.String("0")}},
			MinReadySeconds: proto.Int32(0),
		},
		Status: &v1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2, NumberUnavailable: 1, ObservedGeneration: 2},
	}
}

func testCLIEnv(out *bytes.Buffer) *cliEnv {
	return &cliEnv{out: out, errOut: out, now: func() time.Time { return testNow }, loc: time.UTC}
}

// The get tables and describe of CronJobs (SPEC C6: SCHEDULE, TIMEZONE,
// SUSPEND, ACTIVE, LAST SCHEDULE, NEXT RUN computed from the schedule) and
// DaemonSets (SPEC D3), against golden files.
func TestCronJobAndDaemonSetGolden(t *testing.T) {
	cjs := []object{
		fixtureCronJob("backup", "*/5 * * * *", "", false),
		fixtureCronJob("report", "0 9 * * 1-5", "America/New_York", false),
		fixtureCronJob("paused", "@daily", "", true),
	}
	for _, tc := range []struct {
		golden string
		k      kind
		objs   []object
		o      tableOptions
	}{
		{"get_cronjobs.golden", kindCronJob, cjs, tableOptions{}},
		{"get_cronjobs_wide.golden", kindCronJob, cjs, tableOptions{wide: true}},
		{"get_daemonsets.golden", kindDaemonSet, []object{fixtureDaemonSet()}, tableOptions{}},
		{"get_daemonsets_all.golden", kindDaemonSet, []object{fixtureDaemonSet()}, tableOptions{namespaces: true, wide: true}},
	} {
		var out bytes.Buffer
		env := testCLIEnv(&out)
		if err := printTable(env, &out, tc.k, tc.objs, tc.o); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.golden, out.String())
	}
	var out bytes.Buffer
	env := testCLIEnv(&out)
	job := fixtureJob("backup-28585923", "default", proto.Int32(1), 1, 17*time.Minute, &v1.JobStatus{Active: 1})
	ev := &v1.Event{Reason: "SuccessfulCreate", Type: "Normal", Message: "Created job backup-28585923", LastTimestamp: ago(17 * time.Minute)}
	if err := env.describeCronJob(&out, cjs[0].(*v1.CronJob), []*v1.Job{job}, []*v1.Event{ev}); err != nil {
		t.Fatal(err)
	}
	golden(t, "describe_cronjob.golden", out.String())
	out.Reset()
	pod := &v1.Pod{Metadata: &v1.ObjectMeta{Name: "agent-x7k2p", CreationTimestamp: ago(time.Hour), Labels: map[string]string{"controller-revision-hash": "1a2b3c"}},
		Spec: &v1.PodSpec{NodeName: "worker-1"}, Status: &v1.PodStatus{Phase: "Running"}}
	if err := env.describeDaemonSet(&out, fixtureDaemonSet(), []*v1.Pod{pod}, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "describe_daemonset.golden", out.String())
}

// NEXT RUN follows the time zone: 09:00 New York on a weekday is 13:00 UTC
// in May; testNow is 12:00 UTC on Wednesday 1 May 2024.
func TestNextRun(t *testing.T) {
	env := testCLIEnv(&bytes.Buffer{})
	for _, tc := range []struct {
		cj   *v1.CronJob
		want string
	}{
		{fixtureCronJob("a", "0 9 * * 1-5", "America/New_York", false), "in 60m"},
		{fixtureCronJob("b", "*/5 * * * *", "", false), "in 5m"},
		{fixtureCronJob("c", "@daily", "", true), "<suspended>"},
		{fixtureCronJob("d", "0 0 30 2 *", "", false), "<none>"},
	} {
		if got := env.nextRun(tc.cj); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.cj.Metadata.Name, tc.cj.Spec.Schedule, got, tc.want)
		}
	}
}

// suspendCronJobs leaves job targets to runSuspend.
func TestSuspendCronJobsSelectsKind(t *testing.T) {
	for _, args := range [][]string{{"job", "pi"}, {"job/pi"}, {}} {
		handled, err := suspendCronJobs(nil, testCLIEnv(&bytes.Buffer{}), args, "default", true)
		if handled || err != nil {
			t.Errorf("%v: handled %v %v", args, handled, err)
		}
	}
	if handled, err := suspendCronJobs(nil, testCLIEnv(&bytes.Buffer{}), []string{"cronjob"}, "default", true); !handled || err == nil || !strings.Contains(err.Error(), "name the cronjob") {
		t.Errorf("cronjob without name: %v %v", handled, err)
	}
}

// drain leaves DaemonSet pods alone (they would be recreated on the
// cordoned node at once), and evicts everything else.
func TestDrainIgnoresDaemonPods(t *testing.T) {
	own := func(kind string) *v1.Pod {
		return &v1.Pod{Metadata: &v1.ObjectMeta{OwnerReferences: []*v1.OwnerReference{{Kind: kind, Controller: proto.Bool(true)}}}}
	}
	if !daemonPod(own("DaemonSet")) || daemonPod(own("Job")) || daemonPod(&v1.Pod{}) {
		t.Fatal("daemonPod misclassifies")
	}
}
