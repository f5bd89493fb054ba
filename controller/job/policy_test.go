package job

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func onFailure() jobOpt {
	return func(j *v1.Job) { j.Spec.Template.Spec.RestartPolicy = "OnFailure" }
}

// restarts gives a pod's container that many in-place restarts.
func restarts(n int32) podOpt {
	return func(p *v1.Pod) {
		p.Status.ContainerStatuses = []*v1.ContainerStatus{{Name: "c", RestartCount: n,
			State: &v1.ContainerState{Running: &v1.ContainerStateRunning{}}}}
	}
}

func TestPlanOnFailureRestartsJ5(t *testing.T) {
	runCases(t, []planCase{
		{name: "restarts below the limit keep the Job running", job: newJob(onFailure(), completions(2), parallelism(2), backoffLimit(3)),
			pods: concat(pods(1, restarts(2)), pods(1, restarts(1))),
			want: want{active: 2}},
		{name: "restarts of active pods exceeding backoffLimit fail the Job", job: newJob(onFailure(), completions(2), parallelism(2), backoffLimit(3)),
			pods: concat(pods(1, restarts(2)), pods(1, restarts(2))),
			want: want{terminate: 2, condition: "Failed=True/BackoffLimitExceeded"}},
		{name: "backoffLimit 0: the first restart fails the Job", job: newJob(onFailure(), backoffLimit(0)),
			pods: pods(1, restarts(1)),
			want: want{terminate: 1, condition: "Failed=True/BackoffLimitExceeded"}},
		{name: "failed pods and restarts add up", job: newJob(onFailure(), completions(3), backoffLimit(2), counted(0, 1)),
			pods: pods(1, restarts(2)),
			want: want{terminate: 1, failed: 1, condition: "Failed=True/BackoffLimitExceeded"}},
		{name: "restarts of a pod that finished no longer count", job: newJob(onFailure(), completions(2), backoffLimit(1)),
			pods: concat(pods(1, phase(PhaseSucceeded), restarts(5), uncounted()), pods(1, restarts(1))),
			want: want{count: 1, succeeded: 1, active: 1}},
		{name: "with restartPolicy Never restart counts are not failures", job: newJob(completions(1), backoffLimit(0)),
			pods: pods(1, restarts(3)),
			want: want{active: 1}},
	})
}

// exited gives a failed pod containers that exited with these codes.
func exited(codes map[string]int32) podOpt {
	return func(p *v1.Pod) {
		p.Status.ContainerStatuses = nil
		for name, code := range codes {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &v1.ContainerStatus{Name: name,
				State: &v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: code, FinishedAt: timestamppb.New(t0.Add(-time.Second))}}})
		}
	}
}

func exitRule(action, op string, container string, codes ...int32) *v1.PodFailurePolicyRule {
	r := &v1.PodFailurePolicyRule{Action: action, OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: codes}}
	if container != "" {
		r.OnExitCodes.ContainerName = proto.String(container)
	}
	return r
}

func condRule(action, typ string) *v1.PodFailurePolicyRule {
	return &v1.PodFailurePolicyRule{Action: action, OnPodConditions: []*v1.PodFailurePolicyOnPodConditionsPattern{{Type: typ, Status: "True"}}}
}

func failurePolicy(rules ...*v1.PodFailurePolicyRule) jobOpt {
	return func(j *v1.Job) { j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: rules} }
}

func TestPlanPodFailurePolicyJ15(t *testing.T) {
	failed := func(opts ...podOpt) []*v1.Pod {
		return pods(1, append([]podOpt{phase(PhaseFailed), uncounted()}, opts...)...)
	}
	runCases(t, []planCase{
		{name: "FailJob on a matching exit code fails the Job at once, stopping the others",
			job:  newJob(completions(3), parallelism(2), failurePolicy(exitRule(ActionFailJob, "In", "", 42))),
			pods: concat(failed(exited(map[string]int32{"c": 42})), pods(1)),
			want: want{count: 1, failed: 1, terminate: 1, condition: "Failed=True/PodFailurePolicy"}},
		{name: "In does not match another exit code: counted, backoff",
			job:  newJob(completions(3), failurePolicy(exitRule(ActionFailJob, "In", "", 42))),
			pods: failed(exited(map[string]int32{"c": 1})),
			want: want{count: 1, failed: 1, requeueAfter: 9 * time.Second}},
		{name: "NotIn matches codes outside the list",
			job:  newJob(completions(3), failurePolicy(exitRule(ActionFailJob, "NotIn", "", 1, 2))),
			pods: failed(exited(map[string]int32{"c": 3})),
			want: want{count: 1, failed: 1, condition: "Failed=True/PodFailurePolicy"}},
		{name: "NotIn never matches exit code 0 of a sibling container",
			job:  newJob(completions(3), failurePolicy(exitRule(ActionFailJob, "NotIn", "", 1))),
			pods: failed(exited(map[string]int32{"c": 1, "side": 0})),
			want: want{count: 1, failed: 1, requeueAfter: 9 * time.Second}},
		{name: "containerName restricts the match",
			job:  newJob(completions(3), failurePolicy(exitRule(ActionFailJob, "In", "side", 42))),
			pods: failed(exited(map[string]int32{"c": 42, "side": 1})),
			want: want{count: 1, failed: 1, requeueAfter: 9 * time.Second}},
		{name: "Ignore: not counted as failed, no backoff, replaced at once, even past backoffLimit",
			job:  newJob(completions(3), backoffLimit(0), failurePolicy(exitRule(ActionIgnore, "In", "", 137))),
			pods: failed(exited(map[string]int32{"c": 137})),
			want: want{count: 1, create: 1, active: 1}},
		{name: "Ignore on DisruptionTarget: a node-lost pod is not a failure",
			job:  newJob(completions(3), backoffLimit(0), failurePolicy(condRule(ActionIgnore, ConditionDisruptionTarget))),
			pods: failed(disrupted(), exited(map[string]int32{"c": 137})),
			want: want{count: 1, create: 1, active: 1}},
		{name: "Count behaves as without a policy",
			job:  newJob(completions(3), backoffLimit(0), failurePolicy(exitRule(ActionCount, "In", "", 1))),
			pods: failed(exited(map[string]int32{"c": 1})),
			want: want{count: 1, failed: 1, condition: "Failed=True/BackoffLimitExceeded"}},
		{name: "first matching rule wins",
			job: newJob(completions(3), failurePolicy(exitRule(ActionIgnore, "In", "", 5), exitRule(ActionFailJob, "In", "", 5),
				exitRule(ActionFailJob, "NotIn", "", 5))),
			pods: failed(exited(map[string]int32{"c": 5})),
			want: want{count: 1, create: 1, active: 1}},
		{name: "no rule matches: the failure counts",
			job:  newJob(completions(3), failurePolicy(condRule(ActionFailJob, ConditionDisruptionTarget))),
			pods: failed(exited(map[string]int32{"c": 2})),
			want: want{count: 1, failed: 1, requeueAfter: 9 * time.Second}},
		{name: "no rule applies to a pod the controller stopped (lowered parallelism)",
			job:  newJob(completions(3), parallelism(1), failurePolicy(exitRule(ActionFailJob, "In", "", 143))),
			pods: concat(failed(exited(map[string]int32{"c": 143}), stoppedFor(TerminationExcess)), pods(1)),
			want: want{count: 1, failed: 1, active: 1}},
		{name: "a policy is evaluated once: an already counted FailJob pod does not fail the Job again",
			job:  newJob(completions(3), counted(0, 1), failurePolicy(exitRule(ActionIgnore, "In", "", 42))),
			pods: pods(1, phase(PhaseFailed), exited(map[string]int32{"c": 42})),
			want: want{create: 1, active: 1, failed: 1}},
	})
}

func TestPodFailurePolicyMessage(t *testing.T) {
	job := newJob(failurePolicy(condRule(ActionCount, "Other"), exitRule(ActionFailJob, "In", "c", 42)))
	p := plan(job, pods(1, phase(PhaseFailed), uncounted(), exited(map[string]int32{"c": 42})), t0, &seqNamer{})
	c := condition(p.Status, CondFailed)
	if c == nil || c.Message == "" || c.Reason != ReasonPodFailurePolicy {
		t.Fatalf("condition %v", c)
	}
	want := "Container c for pod default/" + p.Count[0].Metadata.Name + " failed with exit code 42 matching FailJob rule at index 1"
	if c.Message != want {
		t.Fatalf("message %q, want %q", c.Message, want)
	}
}

func perIndex(limit int32) jobOpt {
	return func(j *v1.Job) {
		j.Spec.BackoffLimitPerIndex = proto.Int32(limit)
		j.Spec.BackoffLimit = proto.Int32(1<<31 - 1)
	}
}
func maxFailedIndexes(n int32) jobOpt {
	return func(j *v1.Job) { j.Spec.MaxFailedIndexes = proto.Int32(n) }
}
func failureCount(n int) podOpt {
	return func(p *v1.Pod) { p.Metadata.Annotations[AnnotationIndexFailureCount] = fmtInt(n) }
}

func TestPlanBackoffLimitPerIndexJ16(t *testing.T) {
	failedAt := t0.Add(-time.Second)
	failed := func(i int, opts ...podOpt) []*v1.Pod {
		return pods(1, append([]podOpt{index(i), phase(PhaseFailed), uncounted(), podFinished(failedAt)}, opts...)...)
	}
	runCases(t, []planCase{
		{name: "a failure within the index's limit: that index waits its own backoff, others go on",
			job:  newJob(indexed(), completions(3), parallelism(3), perIndex(1)),
			pods: concat(failed(0), pods(1, index(1)), pods(1, index(2))),
			want: want{count: 1, failed: 1, active: 2, requeueAfter: 9 * time.Second}},
		{name: "after the index's backoff it gets a pod carrying its failure count",
			job: newJob(indexed(), completions(3), parallelism(3), perIndex(1), counted(0, 1)), now: failedAt.Add(10 * time.Second),
			pods: concat(pods(1, index(0), phase(PhaseFailed), podFinished(failedAt)), pods(1, index(1)), pods(1, index(2))),
			want: want{create: 1, active: 3, failed: 1}},
		{name: "a failure already counted still holds its index's backoff",
			job:  newJob(indexed(), completions(3), parallelism(3), perIndex(1), counted(0, 1)),
			pods: concat(pods(1, index(0), phase(PhaseFailed), podFinished(failedAt)), pods(1, index(1)), pods(1, index(2))),
			want: want{active: 2, failed: 1, requeueAfter: 9 * time.Second}},
		{name: "a failure already counted still uses up its index's limit",
			job: newJob(indexed(), completions(3), parallelism(3), perIndex(1), counted(0, 2)), now: failedAt.Add(time.Hour),
			pods: concat(pods(1, index(0), phase(PhaseFailed), podFinished(failedAt), failureCount(1)), pods(1, index(1)), pods(1, index(2))),
			want: want{active: 2, failed: 2}},
		{name: "over the index's limit the index fails for good; the Job goes on",
			job:  newJob(indexed(), completions(3), parallelism(3), perIndex(1), counted(0, 1)),
			pods: concat(failed(0, failureCount(1)), pods(1, index(1)), pods(1, index(2))),
			want: want{count: 1, failed: 2, active: 2}},
		{name: "all indexes finished, some failed: the Job fails with FailedIndexes",
			job:  newJob(indexed(), completions(2), parallelism(2), perIndex(0), func(j *v1.Job) { j.Status.CompletedIndexes = "1"; j.Status.Succeeded = 1 }),
			pods: failed(0),
			want: want{count: 1, failed: 1, succeeded: 1, condition: "Failed=True/FailedIndexes"}},
		{name: "more failed indexes than maxFailedIndexes fail the Job and stop its pods",
			job:  newJob(indexed(), completions(4), parallelism(4), perIndex(0), maxFailedIndexes(1), func(j *v1.Job) { j.Status.FailedIndexes = proto.String("0") }),
			pods: concat(failed(1), pods(1, index(2)), pods(1, index(3))),
			want: want{count: 1, failed: 1, terminate: 2, condition: "Failed=True/MaxFailedIndexesExceeded"}},
		{name: "FailIndex fails the index at once",
			job:  newJob(indexed(), completions(2), parallelism(2), perIndex(5), failurePolicy(exitRule(ActionFailIndex, "In", "", 3))),
			pods: concat(failed(0, exited(map[string]int32{"c": 3})), pods(1, index(1))),
			want: want{count: 1, failed: 1, active: 1}},
		{name: "Ignore does not use up the index's limit",
			job:  newJob(indexed(), completions(1), perIndex(0), failurePolicy(exitRule(ActionIgnore, "In", "", 137))),
			pods: failed(0, exited(map[string]int32{"c": 137})),
			want: want{count: 1, create: 1, active: 1}},
	})

	// The failedIndexes status, and the failure count on the new pod.
	job := newJob(indexed(), completions(3), parallelism(3), perIndex(1), counted(0, 1))
	p := plan(job, concat(failed(0, failureCount(1)), failed(1), pods(1, index(2))), failedAt.Add(10*time.Second), &seqNamer{})
	if got := p.Status.GetFailedIndexes(); got != "0" {
		t.Fatalf("failedIndexes %q, want 0", got)
	}
	if len(p.Create) != 1 || p.Create[0].Metadata.Annotations[AnnotationIndex] != "1" || p.Create[0].Metadata.Annotations[AnnotationIndexFailureCount] != "1" {
		t.Fatalf("created %v", p.Create)
	}
}

func successPolicy(rules ...*v1.SuccessPolicyRule) jobOpt {
	return func(j *v1.Job) { j.Spec.SuccessPolicy = &v1.SuccessPolicy{Rules: rules} }
}

func TestPlanSuccessPolicyJ16(t *testing.T) {
	idx := func(s string) *v1.SuccessPolicyRule { return &v1.SuccessPolicyRule{SucceededIndexes: proto.String(s)} }
	cnt := func(n int32) *v1.SuccessPolicyRule { return &v1.SuccessPolicyRule{SucceededCount: proto.Int32(n)} }
	both := func(s string, n int32) *v1.SuccessPolicyRule {
		return &v1.SuccessPolicyRule{SucceededIndexes: proto.String(s), SucceededCount: proto.Int32(n)}
	}
	done := func(i int) []*v1.Pod { return pods(1, index(i), phase(PhaseSucceeded), uncounted()) }
	runCases(t, []planCase{
		{name: "succeededIndexes met: SuccessCriteriaMet, the other pods are stopped",
			job:  newJob(indexed(), completions(5), parallelism(5), successPolicy(idx("0"))),
			pods: concat(done(0), pods(1, index(1)), pods(1, index(2))),
			want: want{count: 1, succeeded: 1, terminate: 2, condition: "SuccessCriteriaMet=True/SuccessPolicy"}},
		{name: "succeededIndexes not all met: go on",
			job:  newJob(indexed(), completions(3), parallelism(3), successPolicy(idx("0-1"))),
			pods: concat(done(0), pods(1, index(1)), pods(1, index(2))),
			want: want{count: 1, succeeded: 1, active: 2}},
		{name: "succeededCount met",
			job:  newJob(indexed(), completions(5), parallelism(2), successPolicy(cnt(2)), func(j *v1.Job) { j.Status.CompletedIndexes = "3"; j.Status.Succeeded = 1 }),
			pods: concat(done(4)),
			want: want{count: 1, succeeded: 2, condition: "Complete=True/SuccessPolicy"}},
		{name: "both: count among the listed indexes only",
			job:  newJob(indexed(), completions(6), parallelism(1), successPolicy(both("0-2", 2)), func(j *v1.Job) { j.Status.CompletedIndexes = "4-5"; j.Status.Succeeded = 2 }),
			pods: concat(done(1)),
			want: want{count: 1, succeeded: 3, create: 1, active: 1}},
		{name: "both met",
			job:  newJob(indexed(), completions(6), parallelism(1), successPolicy(both("0-2", 2)), func(j *v1.Job) { j.Status.CompletedIndexes = "0,4-5"; j.Status.Succeeded = 3 }),
			pods: concat(done(2)),
			want: want{count: 1, succeeded: 4, condition: "Complete=True/SuccessPolicy"}},
		{name: "SuccessCriteriaMet and no pod left: Complete",
			job: newJob(indexed(), completions(5), successPolicy(idx("0")), withCondition(CondSuccessCriteriaMet, "True", t0.Add(-time.Second)),
				func(j *v1.Job) { j.Status.CompletedIndexes = "0"; j.Status.Succeeded = 1 }),
			pods: pods(1, index(1), phase(PhaseFailed), uncounted(), stoppedFor(TerminationJobFinished)),
			want: want{count: 1, failed: 1, succeeded: 1, condition: "Complete=True/SuccessPolicy"}},
		{name: "once SuccessCriteriaMet, failures no longer fail the Job",
			job: newJob(indexed(), completions(5), parallelism(2), backoffLimit(0), successPolicy(idx("0")), withCondition(CondSuccessCriteriaMet, "True", t0.Add(-time.Second)),
				func(j *v1.Job) { j.Status.CompletedIndexes = "0"; j.Status.Succeeded = 1 }),
			pods: concat(pods(1, index(1), phase(PhaseFailed), uncounted()), pods(1, index(2), deleting())),
			want: want{count: 1, failed: 1, succeeded: 1, condition: "SuccessCriteriaMet=True/"}},
	})
}

func TestSuccessCriteriaMetThenComplete(t *testing.T) {
	job := newJob(indexed(), completions(3), parallelism(3), successPolicy(&v1.SuccessPolicyRule{SucceededIndexes: proto.String("1")}))
	p := plan(job, concat(pods(1, index(1), phase(PhaseSucceeded), uncounted()), pods(1, index(0)), pods(1, index(2))), t0, &seqNamer{})
	if !hasCondition(p.Status, CondSuccessCriteriaMet) || hasCondition(p.Status, CondComplete) || len(p.Terminate) != 2 {
		t.Fatalf("first pass: conditions %v, terminate %d", p.Status.Conditions, len(p.Terminate))
	}
	for _, term := range p.Terminate {
		if term.Reason != TerminationJobFinished {
			t.Fatalf("terminated for %s", term.Reason)
		}
	}
	job.Status = p.Status
	p = plan(job, concat(pods(1, index(0), phase(PhaseFailed), uncounted(), stoppedFor(TerminationJobFinished)),
		pods(1, index(2), phase(PhaseFailed), uncounted(), stoppedFor(TerminationJobFinished))), t0.Add(time.Second), &seqNamer{})
	if !hasCondition(p.Status, CondComplete) || p.Status.CompletionTime == nil {
		t.Fatalf("second pass: conditions %v", p.Status.Conditions)
	}
	if len(p.Status.Conditions) != 2 || p.Status.Conditions[0].Type != CondSuccessCriteriaMet || p.Status.Conditions[1].Type != CondComplete {
		t.Fatalf("conditions in order %v, want SuccessCriteriaMet then Complete", p.Status.Conditions)
	}
}
