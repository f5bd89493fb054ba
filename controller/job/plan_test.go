package job

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type seqNamer struct{ n int }

func (s *seqNamer) PodName(job string, index int) string {
	s.n++
	if index >= 0 {
		return fmt.Sprintf("%s-%d-p%d", job, index, s.n)
	}
	return fmt.Sprintf("%s-p%d", job, s.n)
}
func (s *seqNamer) UID() string { return fmt.Sprintf("uid-%d", s.n) }

// jobOpt changes a test Job.
type jobOpt func(*v1.Job)

func completions(n int32) jobOpt { return func(j *v1.Job) { j.Spec.Completions = proto.Int32(n) } }
func parallelism(n int32) jobOpt { return func(j *v1.Job) { j.Spec.Parallelism = proto.Int32(n) } }
func backoffLimit(n int32) jobOpt {
	return func(j *v1.Job) { j.Spec.BackoffLimit = proto.Int32(n) }
}
func indexed() jobOpt       { return func(j *v1.Job) { j.Spec.CompletionMode = "Indexed" } }
func suspend(b bool) jobOpt { return func(j *v1.Job) { j.Spec.Suspend = proto.Bool(b) } }
func started(at time.Time) jobOpt {
	return func(j *v1.Job) { j.Status.StartTime = timestamppb.New(at) }
}
func counted(succeeded, failed int32) jobOpt {
	return func(j *v1.Job) { j.Status.Succeeded, j.Status.Failed = succeeded, failed }
}
func deadline(s int64) jobOpt {
	return func(j *v1.Job) { j.Spec.ActiveDeadlineSeconds = proto.Int64(s) }
}
func ttl(s int32) jobOpt { return func(j *v1.Job) { j.Spec.TtlSecondsAfterFinished = proto.Int32(s) } }
func withCondition(typ, status string, at time.Time) jobOpt {
	return func(j *v1.Job) {
		j.Status.Conditions = append(j.Status.Conditions, &v1.JobCondition{Type: typ, Status: status, LastTransitionTime: timestamppb.New(at)})
	}
}

func newJob(opts ...jobOpt) *v1.Job {
	j := &v1.Job{
		Metadata: &v1.ObjectMeta{Name: "j", Namespace: "default", Uid: "job-uid"},
		Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
			RestartPolicy: "Never",
			Containers:    []*v1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
		}}},
		Status: &v1.JobStatus{},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

// podOpt changes a test pod.
type podOpt func(*v1.Pod)

func phase(ph string) podOpt { return func(p *v1.Pod) { p.Status.Phase = ph } }
func podFinished(at time.Time) podOpt {
	return func(p *v1.Pod) {
		p.Status.ContainerStatuses = []*v1.ContainerStatus{{Name: "c", State: &v1.ContainerState{
			Terminated: &v1.ContainerStateTerminated{FinishedAt: timestamppb.New(at)}}}}
	}
}
func uncounted() podOpt {
	return func(p *v1.Pod) { p.Metadata.Finalizers = []string{FinalizerTracking} }
}
func deleting() podOpt { return func(p *v1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.New(t0) } }
func index(i int) podOpt {
	return func(p *v1.Pod) { p.Metadata.Annotations = map[string]string{AnnotationIndex: fmt.Sprint(i)} }
}
func disrupted() podOpt {
	return func(p *v1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, &v1.PodCondition{Type: ConditionDisruptionTarget, Status: "True", Reason: "NodeLost"})
	}
}
func stoppedFor(reason string) podOpt {
	return func(p *v1.Pod) {
		if p.Metadata.Annotations == nil {
			p.Metadata.Annotations = map[string]string{}
		}
		p.Metadata.Annotations[AnnotationTerminationReason] = reason
	}
}

var podSeq int

func pod(opts ...podOpt) *v1.Pod {
	podSeq++
	p := &v1.Pod{
		Metadata: &v1.ObjectMeta{
			Name: fmt.Sprintf("pod-%03d", podSeq), Namespace: "default", CreationTimestamp: timestamppb.New(t0.Add(-time.Hour)),
			OwnerReferences: []*v1.OwnerReference{{Kind: "Job", Name: "j", Uid: "job-uid", Controller: proto.Bool(true)}},
		},
		Spec:   &v1.PodSpec{NodeName: "n1"},
		Status: &v1.PodStatus{Phase: PhaseRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func pods(n int, opts ...podOpt) []*v1.Pod {
	var out []*v1.Pod
	for range n {
		out = append(out, pod(opts...))
	}
	return out
}

func concat(lists ...[]*v1.Pod) []*v1.Pod {
	var out []*v1.Pod
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// want is the part of a Plan a case checks.
type want struct {
	create, count, terminate int
	active, succeeded        int32
	failed                   int32
	condition                string // "" none; else "Type=Status/Reason"
	requeueAfter             time.Duration
	deleteJob                bool
}

func check(t *testing.T, p *Plan, w want) {
	t.Helper()
	if len(p.Create) != w.create || len(p.Count) != w.count || len(p.Terminate) != w.terminate {
		t.Errorf("create/count/terminate = %d/%d/%d, want %d/%d/%d", len(p.Create), len(p.Count), len(p.Terminate), w.create, w.count, w.terminate)
	}
	if p.Status.Active != w.active || p.Status.Succeeded != w.succeeded || p.Status.Failed != w.failed {
		t.Errorf("active/succeeded/failed = %d/%d/%d, want %d/%d/%d", p.Status.Active, p.Status.Succeeded, p.Status.Failed, w.active, w.succeeded, w.failed)
	}
	got := ""
	for _, c := range p.Status.Conditions {
		if c.Type != CondSuspended {
			got = c.Type + "=" + c.Status + "/" + c.Reason
		}
	}
	if got != w.condition {
		t.Errorf("condition %q, want %q", got, w.condition)
	}
	if p.RequeueAfter != w.requeueAfter {
		t.Errorf("requeueAfter %v, want %v", p.RequeueAfter, w.requeueAfter)
	}
	if p.DeleteJob != w.deleteJob {
		t.Errorf("deleteJob %v, want %v", p.DeleteJob, w.deleteJob)
	}
}

type planCase struct {
	name string
	job  *v1.Job
	pods []*v1.Pod
	now  time.Time
	want want
}

func runCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			check(t, plan(tc.job, tc.pods, now, &seqNamer{}), tc.want)
		})
	}
}

func TestPlanPatternsJ1J2J3(t *testing.T) {
	runCases(t, []planCase{
		{name: "J3 non-parallel creates one pod", job: newJob(),
			want: want{create: 1, active: 1}},
		{name: "J2 fixed count creates parallelism pods", job: newJob(completions(20), parallelism(5)),
			want: want{create: 5, active: 5}},
		{name: "J2 never more than remaining completions", job: newJob(completions(3), parallelism(5)),
			want: want{create: 3, active: 3}},
		{name: "J2 remaining shrinks as pods succeed", job: newJob(completions(3), parallelism(5)),
			pods: concat(pods(2, phase(PhaseSucceeded), uncounted()), pods(1)),
			want: want{count: 2, active: 1, succeeded: 2}},
		{name: "J2 full parallelism keeps creating nothing", job: newJob(completions(20), parallelism(5)),
			pods: pods(5), want: want{active: 5}},
		{name: "J2 parallelism 0 pauses", job: newJob(completions(5), parallelism(0)),
			want: want{}},
		{name: "J2 lowered parallelism terminates the excess", job: newJob(completions(20), parallelism(2)),
			pods: pods(5), want: want{terminate: 3, active: 2}},
		{name: "J1 completes when completions succeeded", job: newJob(completions(2), counted(1, 0)),
			pods: pods(1, phase(PhaseSucceeded), uncounted()),
			want: want{count: 1, succeeded: 2, condition: "Complete=True/Completed"}},
		{name: "J3 work queue starts parallelism pods", job: newJob(parallelism(3)),
			want: want{create: 3, active: 3}},
		{name: "J3 work queue: after a success no new pods, others finish", job: newJob(parallelism(3)),
			pods: concat(pods(1, phase(PhaseSucceeded), uncounted()), pods(1, phase(PhaseFailed), uncounted()), pods(1)),
			want: want{count: 2, active: 1, succeeded: 1, failed: 1}},
		{name: "J3 work queue completes when all terminated", job: newJob(parallelism(3), counted(1, 0)),
			pods: pods(2, phase(PhaseSucceeded), uncounted()),
			want: want{count: 2, succeeded: 3, condition: "Complete=True/Completed"}},
	})
}

func TestPlanAccountingJ11(t *testing.T) {
	runCases(t, []planCase{
		{name: "counted pods are not counted again", job: newJob(completions(5), counted(2, 1)),
			pods: concat(pods(2, phase(PhaseSucceeded)), pods(1, phase(PhaseFailed)), pods(1, phase(PhaseSucceeded), uncounted())),
			want: want{count: 1, create: 1, active: 1, succeeded: 3, failed: 1}},
		{name: "a deleted running pod is not counted (or replaced) before it is terminal", job: newJob(completions(2)),
			pods: pods(1, uncounted(), deleting()),
			want: want{}},
		{name: "J16 TerminatingOrFailed replaces a terminating pod at once", job: newJob(completions(2), func(j *v1.Job) { j.Spec.PodReplacementPolicy = "TerminatingOrFailed" }),
			pods: pods(1, uncounted(), deleting()),
			want: want{create: 1, active: 1}},
		{name: "more uncounted pods than fit one transaction: count some, requeue", job: newJob(completions(200), parallelism(100)),
			pods: pods(100, phase(PhaseSucceeded), uncounted()),
			want: want{count: maxCountOpsPerPlan, succeeded: maxCountOpsPerPlan}},
		{name: "counting a pod whose deletion was asked for costs two operations (pod and assignment deleted)", job: newJob(completions(200), parallelism(100)),
			pods: pods(100, phase(PhaseSucceeded), uncounted(), deleting()),
			want: want{count: maxCountOpsPerPlan / 2, succeeded: maxCountOpsPerPlan / 2}},
	})
}

func TestPlanBackoffJ6(t *testing.T) {
	failedAt := t0.Add(-5 * time.Second)
	runCases(t, []planCase{
		{name: "first failure waits 10s from its finish", job: newJob(completions(3)),
			pods: pods(1, phase(PhaseFailed), uncounted(), podFinished(failedAt)),
			want: want{count: 1, failed: 1, requeueAfter: 5 * time.Second}},
		{name: "after the delay a pod is created", job: newJob(completions(3)), now: failedAt.Add(10 * time.Second),
			pods: pods(1, phase(PhaseFailed), podFinished(failedAt)),
			want: want{create: 1, active: 1}},
		{name: "two failures wait 20s", job: newJob(completions(3)), now: failedAt.Add(15 * time.Second),
			pods: concat(pods(1, phase(PhaseFailed), podFinished(failedAt.Add(-time.Minute))), pods(1, phase(PhaseFailed), podFinished(failedAt))),
			want: want{requeueAfter: 5 * time.Second}},
		{name: "a later success resets the count", job: newJob(completions(3)), now: failedAt.Add(10 * time.Second),
			pods: concat(pods(3, phase(PhaseFailed), podFinished(failedAt.Add(-time.Hour))),
				pods(1, phase(PhaseSucceeded), podFinished(failedAt.Add(-time.Minute))),
				pods(1, phase(PhaseFailed), podFinished(failedAt))),
			want: want{create: 1, active: 1}},
		{name: "node-lost pods are replaced at once (N2)", job: newJob(completions(3)),
			pods: pods(1, phase(PhaseFailed), uncounted(), disrupted(), podFinished(t0)),
			want: want{count: 1, failed: 1, create: 1, active: 1}},
		{name: "failures beyond backoffLimit fail the Job and stop its pods", job: newJob(completions(5), parallelism(2), backoffLimit(1), counted(0, 1)),
			pods: concat(pods(1, phase(PhaseFailed), uncounted(), podFinished(t0)), pods(1)),
			want: want{count: 1, failed: 2, terminate: 1, condition: "Failed=True/BackoffLimitExceeded"}},
		{name: "failures up to backoffLimit do not fail", job: newJob(completions(5), backoffLimit(1)),
			pods: pods(1, phase(PhaseFailed), uncounted(), podFinished(t0)),
			want: want{count: 1, failed: 1, requeueAfter: 10 * time.Second}},
	})
}

func TestBackoffSchedule(t *testing.T) {
	want := []time.Duration{0, 10, 20, 40, 80, 160, 320, 360, 360, 360}
	for n, w := range want {
		if got := BackoffDelay(n); got != w*time.Second {
			t.Errorf("BackoffDelay(%d) = %v, want %v", n, got, w*time.Second)
		}
	}
}

func TestPlanDeadlineJ7(t *testing.T) {
	runCases(t, []planCase{
		{name: "before the deadline requeue at it", job: newJob(completions(3), deadline(60), started(t0.Add(-50*time.Second))),
			pods: pods(1), want: want{active: 1, requeueAfter: 10 * time.Second}},
		{name: "at the deadline fail and stop pods", job: newJob(completions(3), deadline(60), started(t0.Add(-60*time.Second))),
			pods: pods(1), want: want{terminate: 1, condition: "Failed=True/DeadlineExceeded"}},
		{name: "deadline wins over a pending backoff", job: newJob(completions(3), deadline(60), started(t0.Add(-61*time.Second))),
			pods: pods(1, phase(PhaseFailed), uncounted(), podFinished(t0)),
			want: want{count: 1, failed: 1, condition: "Failed=True/DeadlineExceeded"}},
	})
}

func TestPlanTTLJ8(t *testing.T) {
	runCases(t, []planCase{
		{name: "finished job waits out its TTL", job: newJob(ttl(30), counted(1, 0), withCondition(CondComplete, "True", t0.Add(-10*time.Second))),
			want: want{succeeded: 1, condition: "Complete=True/", requeueAfter: 20 * time.Second}},
		{name: "then it is deleted", job: newJob(ttl(30), counted(1, 0), withCondition(CondComplete, "True", t0.Add(-30*time.Second))),
			want: want{succeeded: 1, condition: "Complete=True/", deleteJob: true}},
		{name: "no TTL keeps it", job: newJob(counted(1, 0), withCondition(CondComplete, "True", t0.Add(-time.Hour))),
			want: want{succeeded: 1, condition: "Complete=True/"}},
	})
}

func TestPlanSuspendJ9(t *testing.T) {
	job := newJob(completions(4), parallelism(2), suspend(true), started(t0.Add(-time.Hour)))
	p := plan(job, pods(2), t0, &seqNamer{})
	check(t, p, want{terminate: 2})
	for _, term := range p.Terminate {
		if term.Reason != TerminationSuspended {
			t.Fatalf("terminated for %q, want Suspended", term.Reason)
		}
	}
	if !hasCondition(p.Status, CondSuspended) || len(p.Events) != 1 || p.Events[0].Reason != "Suspended" {
		t.Fatalf("conditions %v events %v", p.Status.Conditions, p.Events)
	}
	// Pods stopped by the suspension are not failures.
	job.Status = p.Status
	p = plan(job, pods(2, phase(PhaseFailed), uncounted(), stoppedFor(TerminationSuspended)), t0, &seqNamer{})
	check(t, p, want{count: 2})
	// Resume: condition False, startTime reset to now, pods created again.
	job.Status = p.Status
	job.Spec.Suspend = proto.Bool(false)
	p = plan(job, nil, t0.Add(time.Minute), &seqNamer{})
	check(t, p, want{create: 2, active: 2})
	if c := condition(p.Status, CondSuspended); c == nil || c.Status != "False" || !p.Status.StartTime.AsTime().Equal(t0.Add(time.Minute)) {
		t.Fatalf("after resume: %v start %v", c, p.Status.StartTime.AsTime())
	}
}

func TestPlanIndexedJ4J13(t *testing.T) {
	job := newJob(indexed(), completions(5), parallelism(2))
	p := plan(job, nil, t0, &seqNamer{})
	check(t, p, want{create: 2, active: 2})
	for i, c := range p.Create {
		if got := c.Metadata.Annotations[AnnotationIndex]; got != fmt.Sprint(i) {
			t.Fatalf("pod %d index %q", i, got)
		}
		if c.Spec.Hostname != fmt.Sprintf("j-%d", i) {
			t.Fatalf("hostname %q", c.Spec.Hostname)
		}
		env := c.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].Value != fmt.Sprint(i) {
			t.Fatalf("env %v", env)
		}
	}
	// Index 0 succeeded, index 1 is still terminating after a failure: it
	// gets no second pod (J13); the next free indexes are 2 and 3.
	job.Status.CompletedIndexes = "0"
	job.Status.Succeeded = 1
	p = plan(job, concat(pods(1, index(1), deleting())), t0, &seqNamer{})
	check(t, p, want{create: 1, active: 1, succeeded: 1})
	if got := p.Create[0].Metadata.Annotations[AnnotationIndex]; got != "2" {
		t.Fatalf("created index %s, want 2", got)
	}
	// Completed indexes in range form.
	job.Status.CompletedIndexes = "0-2"
	job.Status.Succeeded = 3
	p = plan(job, concat(pods(1, index(4), phase(PhaseSucceeded), uncounted()), pods(1, index(3))), t0, &seqNamer{})
	if p.Status.CompletedIndexes != "0-2,4" || p.Status.Succeeded != 4 {
		t.Fatalf("completedIndexes %q succeeded %d", p.Status.CompletedIndexes, p.Status.Succeeded)
	}
	// A second success for an index already complete changes nothing.
	job.Status.CompletedIndexes = "0-4"
	job.Status.Succeeded = 5
	p = plan(job, pods(1, index(4), phase(PhaseSucceeded), uncounted()), t0, &seqNamer{})
	check(t, p, want{count: 1, succeeded: 5, condition: "Complete=True/Completed"})
}

func TestIndexSetRangeForm(t *testing.T) {
	for in, want := range map[string]string{"": "", "0": "0", "0,1,2,3,7": "0-3,7", "5,3,4,9,10": "3-5,9-10", "0-3,7": "0-3,7"} {
		if got := parseIndexes(in).String(); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestPlanCreatesPodsOwnedAndLabelled(t *testing.T) {
	p := plan(newJob(), nil, t0, &seqNamer{})
	pod := p.Create[0]
	md := pod.Metadata
	if md.Labels[LabelJobName] != "j" || md.Labels[LabelControllerUID] != "job-uid" {
		t.Fatalf("labels %v", md.Labels)
	}
	if len(md.OwnerReferences) != 1 || md.OwnerReferences[0].Uid != "job-uid" || !md.OwnerReferences[0].GetController() {
		t.Fatalf("owner %v", md.OwnerReferences)
	}
	if !hasFinalizer(pod, FinalizerTracking) || pod.Status.Phase != PhasePending {
		t.Fatalf("finalizers %v phase %s", md.Finalizers, pod.Status.Phase)
	}
}

func fmtInt(n int) string { return fmt.Sprint(n) }
