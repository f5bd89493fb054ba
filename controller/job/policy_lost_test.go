package job

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/podstatus"
)

// lostWithNode makes a pod failed the way the node controller fails a pod
// of a lost node: its running container terminated by podstatus.Terminate
// (exit code 137, not observed) and DisruptionTarget=True.
func lostWithNode() podOpt {
	return func(p *v1.Pod) {
		p.Status.ContainerStatuses = []*v1.ContainerStatus{{Name: "c", Ready: true,
			State: &v1.ContainerState{Running: &v1.ContainerStateRunning{}}}}
		podstatus.Terminate(p, PhaseFailed, "NodeLost", "node n1 was lost", timestamppb.New(t0))
	}
}

// TestPlanPodFailurePolicyLostPodJ15 (issue 13 #11): the exit code the
// controller fills in for a container of a pod lost with its node was never
// observed, so onExitCodes rules do not match it (SPEC J15): such a pod
// matches through DisruptionTarget only, as before its containers were
// marked terminated.
func TestPlanPodFailurePolicyLostPodJ15(t *testing.T) {
	failed := func(opts ...podOpt) []*v1.Pod {
		return pods(1, append([]podOpt{uncounted()}, opts...)...)
	}
	runCases(t, []planCase{
		{name: "NotIn [0] FailJob does not fail the Job on node loss; DisruptionTarget Ignore applies",
			job: newJob(completions(3), backoffLimit(0), failurePolicy(
				exitRule(ActionFailJob, "NotIn", "", 0), condRule(ActionIgnore, ConditionDisruptionTarget))),
			pods: failed(lostWithNode(), disrupted()),
			want: want{count: 1, create: 1, active: 1}},
		{name: "In [137] does not match a lost pod's unobserved exit code: counted, no backoff",
			job:  newJob(completions(3), failurePolicy(exitRule(ActionFailJob, "In", "", 137))),
			pods: failed(lostWithNode(), disrupted()),
			want: want{count: 1, failed: 1, create: 1, active: 1}},
	})
}
