package job

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func reasons(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+"/"+e.Reason)
	}
	return out
}

func TestPlanEventsJ17(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  *v1.Job
		pods []*v1.Pod
		want []string
	}{
		{"one SuccessfulCreate per pod created (folded by the shell)", newJob(completions(2), parallelism(2)), nil,
			[]string{"Normal/SuccessfulCreate", "Normal/SuccessfulCreate"}},
		{"Completed", newJob(counted(0, 0)), pods(1, phase(PhaseSucceeded), uncounted()),
			[]string{"Normal/Completed"}},
		{"BackoffLimitExceeded", newJob(backoffLimit(0)), pods(1, phase(PhaseFailed), uncounted()),
			[]string{"Warning/BackoffLimitExceeded"}},
		{"DeadlineExceeded", newJob(deadline(1), started(t0.Add(-time.Minute))), pods(1),
			[]string{"Warning/DeadlineExceeded"}},
		{"Suspended", newJob(suspend(true)), nil, []string{"Normal/Suspended"}},
		{"Resumed", newJob(withCondition(CondSuspended, "True", t0.Add(-time.Hour))), nil,
			[]string{"Normal/Resumed", "Normal/SuccessfulCreate"}},
		{"no event when nothing happens", newJob(), pods(1), nil},
		{"a finished Job records nothing more", newJob(counted(1, 0), withCondition(CondComplete, "True", t0.Add(-time.Hour))), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reasons(plan(tc.job, tc.pods, t0, &seqNamer{}).Events)
			if len(got) != len(tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("events %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func ready() podOpt {
	return func(p *v1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, &v1.PodCondition{Type: "Ready", Status: "True"})
	}
}

func TestPlanStatusJ10(t *testing.T) {
	job := newJob(completions(10), parallelism(4), counted(2, 1))
	p := plan(job, concat(pods(2, ready()), pods(1), pods(1, deleting()), pods(1, phase(PhaseSucceeded), uncounted())), t0, &seqNamer{})
	st := p.Status
	// 3 active (2 ready) and 1 terminating fill parallelism 4: no new pod
	// until the terminating one is terminal (podReplacementPolicy Failed).
	if len(p.Create) != 0 || st.Active != 3 || st.GetReady() != 2 || st.GetTerminating() != 1 || st.Succeeded != 3 || st.Failed != 1 {
		t.Fatalf("active %d ready %d terminating %d succeeded %d failed %d; want 3 2 1 3 1",
			st.Active, st.GetReady(), st.GetTerminating(), st.Succeeded, st.Failed)
	}
	if !st.StartTime.AsTime().Equal(t0) {
		t.Fatalf("startTime %v, want now on the first pass", st.StartTime.AsTime())
	}
	// Finishing sets completionTime and a condition with its transition time.
	job = newJob(completions(1))
	job.Status.StartTime = timestamppb.New(t0.Add(-time.Minute))
	p = plan(job, pods(1, phase(PhaseSucceeded), uncounted()), t0, &seqNamer{})
	c := condition(p.Status, CondComplete)
	if c == nil || c.Status != "True" || !c.LastTransitionTime.AsTime().Equal(t0) || !p.Status.CompletionTime.AsTime().Equal(t0) {
		t.Fatalf("complete condition %v completionTime %v", c, p.Status.CompletionTime)
	}
	if !p.Status.StartTime.AsTime().Equal(t0.Add(-time.Minute)) {
		t.Fatalf("startTime changed to %v", p.Status.StartTime.AsTime())
	}
}
