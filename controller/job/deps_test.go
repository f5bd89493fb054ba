package job

import (
	"testing"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func depsJob(name string, deps ...string) *v1.Job {
	return &v1.Job{Metadata: &v1.ObjectMeta{Name: name, Namespace: "default"}, Spec: &v1.JobSpec{DependsOn: deps}}
}

func withCond(j *v1.Job, typ string) *v1.Job {
	j.Status = &v1.JobStatus{Conditions: []*v1.JobCondition{{Type: typ, Status: "True"}}}
	return j
}

// SPEC J18: a Job waits (Waiting=True naming what it waits for) until every
// dependency is Complete; a failed dependency, or one deleted after it was
// seen, fails it with DependencyFailed; a dependency not created yet is
// waited for.
func TestDependencyGate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		job       *v1.Job
		pods      int
		others    []*v1.Job
		want      depState
		wantCond  string // "type=status/reason: message" of Waiting
		wantFail  bool
		wantEvent string
	}{
		{"no deps", depsJob("r"), 0, nil, depsPassed, "", false, ""},
		{"running dep", depsJob("r", "a"), 0, []*v1.Job{depsJob("a")}, depsWaiting, "True/WaitingForDependencies: waiting for a", false, ""},
		{"one of two complete", depsJob("r", "a", "b"), 0, []*v1.Job{withCond(depsJob("a"), CondComplete), depsJob("b")}, depsWaiting, "True/WaitingForDependencies: waiting for b", false, ""},
		{"not created yet", depsJob("r", "a"), 0, nil, depsWaiting, "True/WaitingForDependencies: waiting for a", false, ""},
		{"all complete", depsJob("r", "a", "b"), 0, []*v1.Job{withCond(depsJob("a"), CondComplete), withCond(depsJob("b"), CondComplete)}, depsReady, "False/DependenciesComplete: dependencies complete: a, b", false, ""},
		{"dep failed", depsJob("r", "a", "b"), 0, []*v1.Job{withCond(depsJob("a"), CondComplete), withCond(depsJob("b"), CondFailed)}, depsFailed, "False/DependencyFailed: dependency b failed", true, ReasonDependencyFailed},
		{"dep deleted after seen", func() *v1.Job {
			j := depsJob("r", "a")
			j.Metadata.Annotations = map[string]string{AnnotationDependenciesSeen: "a"}
			return j
		}(), 0, nil, depsFailed, "False/DependencyFailed: dependency a was deleted before it completed", true, ReasonDependencyFailed},
		{"already passed", func() *v1.Job {
			j := depsJob("r", "a")
			j.Status = &v1.JobStatus{Conditions: []*v1.JobCondition{{Type: CondWaiting, Status: "False"}}}
			return j
		}(), 0, nil, depsPassed, "False/: ", false, ""},
		{"has pods", depsJob("r", "a"), 1, nil, depsPassed, "", false, ""},
		{"finished", withCond(depsJob("r", "a"), CondFailed), 0, nil, depsPassed, "", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			byName := map[string]*v1.Job{}
			for _, o := range tc.others {
				byName[o.Metadata.Name] = o
			}
			got, ev := dependencyGate(tc.job, tc.pods, func(n string) *v1.Job { return byName[n] }, now)
			if got != tc.want {
				t.Fatalf("state %v, want %v", got, tc.want)
			}
			cond := ""
			if c := condition(tc.job.GetStatus(), CondWaiting); c != nil {
				cond = c.Status + "/" + c.Reason + ": " + c.Message
			}
			if cond != tc.wantCond {
				t.Fatalf("Waiting %q, want %q", cond, tc.wantCond)
			}
			if hasCondition(tc.job.GetStatus(), CondFailed) != tc.wantFail {
				t.Fatalf("Failed = %v, want %v", !tc.wantFail, tc.wantFail)
			}
			if tc.wantFail && tc.wantEvent != "" {
				if c := condition(tc.job.Status, CondFailed); c.Reason != ReasonDependencyFailed {
					t.Fatalf("Failed reason %q", c.Reason)
				}
			}
			if (ev != nil) != (tc.wantEvent != "") || ev != nil && ev.Reason != tc.wantEvent {
				t.Fatalf("event %v, want %q", ev, tc.wantEvent)
			}
		})
	}
}

// SPEC J18: the condition's transition time stays while the waited-for
// list changes; the message follows it.
func TestDependencyGateMessageUpdates(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := depsJob("r", "a", "b")
	a, b := depsJob("a"), depsJob("b")
	lookup := func(n string) *v1.Job { return map[string]*v1.Job{"a": a, "b": b}[n] }
	dependencyGate(j, 0, lookup, t0)
	withCond(a, CondComplete)
	dependencyGate(j, 0, lookup, t0.Add(time.Minute))
	c := condition(j.Status, CondWaiting)
	if c.Message != "waiting for b" || !c.LastTransitionTime.AsTime().Equal(t0) || !c.LastProbeTime.AsTime().Equal(t0.Add(time.Minute)) {
		t.Fatalf("condition %v", c)
	}
	if got := j.Metadata.Annotations[AnnotationDependenciesSeen]; got != "a,b" {
		t.Fatalf("seen %q", got)
	}
}

// The dependants index follows Jobs' dependsOn as they come and go.
func TestDependantsIndex(t *testing.T) {
	var d dependants
	d.set("default/report", "default", []string{"a", "b"})
	d.set("default/other", "default", []string{"a"})
	d.set("ns2/x", "ns2", []string{"a"})
	got := d.get("default/a")
	if len(got) != 2 {
		t.Fatalf("dependants of a: %v", got)
	}
	d.set("default/report", "default", []string{"b"})
	if got := d.get("default/a"); len(got) != 1 || got[0] != "default/other" {
		t.Fatalf("after report dropped a: %v", got)
	}
	d.set("default/other", "default", nil)
	if got := d.get("default/a"); len(got) != 0 {
		t.Fatalf("after other deleted: %v", got)
	}
	if got := d.get("ns2/a"); len(got) != 1 || got[0] != "ns2/x" {
		t.Fatalf("namespaces mixed: %v", got)
	}
}
