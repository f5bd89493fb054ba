package job

import (
	"testing"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func unplaced() podOpt {
	return func(p *v1.Pod) { p.Spec.NodeName = ""; p.Status.Phase = PhasePending }
}

// TestPlanBoundsPendingPodsB1: a Job with a huge parallelism creates no more
// pods while MaxPendingPods of them wait unplaced, says so with a condition
// and one Warning event, and creates more as they are placed (issue 13 #3).
func TestPlanBoundsPendingPodsB1(t *testing.T) {
	lim := Limits{MaxPendingPods: 100}
	huge := func(opts ...jobOpt) *v1.Job {
		return newJob(append([]jobOpt{completions(2147483647), parallelism(1000000000)}, opts...)...)
	}
	for _, tc := range []struct {
		name          string
		job           *v1.Job
		pods          []*v1.Pod
		wantCreate    int
		wantThrottled string // condition status, "" for none
		wantEvent     bool
	}{
		{"room left: a plan's worth", huge(), pods(10, unplaced()), maxCreatesPerPlan, "", false},
		{"room for 3", huge(), pods(97, unplaced()), 3, "True", true},
		{"at the bound", huge(), pods(100, unplaced()), 0, "True", true},
		{"bound pods do not count", huge(), concat(pods(100), pods(99, unplaced())), 1, "True", true},
		{"indexed at the bound", huge(indexed()), pods(100, unplaced()), 0, "True", true},
		{"already throttled: no second event", huge(withCondition(CondPodCreationThrottled, "True", t0)), pods(100, unplaced()), 0, "True", false},
		{"placed: condition cleared", huge(withCondition(CondPodCreationThrottled, "True", t0)), pods(100), maxCreatesPerPlan, "False", false},
		{"wants fewer than the room", newJob(completions(5), parallelism(5)), pods(2, unplaced()), 3, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planWithin(tc.job, tc.pods, t0, &seqNamer{}, lim)
			if len(p.Create) != tc.wantCreate {
				t.Errorf("created %d pods, want %d", len(p.Create), tc.wantCreate)
			}
			c := condition(p.Status, CondPodCreationThrottled)
			switch {
			case tc.wantThrottled == "" && c != nil:
				t.Errorf("condition %v, want none", c)
			case tc.wantThrottled != "" && (c == nil || c.GetStatus() != tc.wantThrottled):
				t.Errorf("condition %v, want status %s", c, tc.wantThrottled)
			case tc.wantEvent && c.GetReason() != ReasonTooManyPendingPods:
				t.Errorf("reason %q", c.GetReason())
			}
			got := false
			for _, e := range p.Events {
				if e.Reason == ReasonTooManyPendingPods && e.Type == "Warning" {
					got = true
				}
			}
			if got != tc.wantEvent {
				t.Errorf("TooManyPendingPods event %v, want %v (events %v)", got, tc.wantEvent, p.Events)
			}
		})
	}
	// The default bound applies when none is configured.
	if p := planWithin(huge(), pods(DefaultMaxPendingPods, unplaced()), t0, &seqNamer{}, Limits{}); len(p.Create) != 0 {
		t.Errorf("default bound: created %d pods at %d pending", len(p.Create), DefaultMaxPendingPods)
	}
}
