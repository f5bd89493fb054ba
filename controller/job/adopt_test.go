package job

import (
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// orphaned removes a test pod's owner references and tracking finalizer, as
// an orphan delete of its Job does (SPEC J12).
func orphaned() podOpt {
	return func(p *v1.Pod) { p.Metadata.OwnerReferences, p.Metadata.Finalizers = nil, nil }
}

func manualSelector(sel map[string]string) jobOpt {
	return func(j *v1.Job) {
		j.Spec.ManualSelector = proto.Bool(true)
		j.Spec.Selector = &v1.LabelSelector{MatchLabels: sel}
		j.Spec.Template.Metadata = &v1.ObjectMeta{Labels: sel}
	}
}

func TestPlanAdoptionJ14(t *testing.T) {
	sel := map[string]string{LabelControllerUID: "old-uid"}
	runCases(t, []planCase{
		{name: "running orphans are adopted and count towards parallelism",
			job:  newJob(completions(3), parallelism(2), manualSelector(sel)),
			pods: pods(2, orphaned()),
			want: want{active: 2}},
		{name: "a terminal orphan is adopted and counted at once",
			job:  newJob(completions(3), parallelism(1), manualSelector(sel)),
			pods: concat(pods(1, orphaned(), phase(PhaseSucceeded)), pods(1, orphaned())),
			want: want{count: 1, succeeded: 1, active: 1}},
		{name: "orphans that complete the Job",
			job:  newJob(completions(2), parallelism(2), manualSelector(sel)),
			pods: pods(2, orphaned(), phase(PhaseSucceeded)),
			want: want{count: 2, succeeded: 2, condition: "Complete=True/Completed"}},
	})

	job := newJob(completions(3), parallelism(2), manualSelector(sel))
	p := plan(job, concat(pods(1, orphaned()), pods(1, orphaned(), phase(PhaseSucceeded))), t0, &seqNamer{})
	if len(p.Adopt) != 2 {
		t.Fatalf("adopted %d, want 2", len(p.Adopt))
	}
	for _, a := range p.Adopt {
		ref := controllerRef(a)
		if ref == nil || ref.GetUid() != "job-uid" || ref.GetKind() != "Job" {
			t.Fatalf("owner %v", a.Metadata.OwnerReferences)
		}
	}
	// The running one is tracked from now on; the succeeded one is counted
	// in this very plan, so its finalizer goes in the same transaction.
	var running *v1.Pod
	for _, a := range p.Adopt {
		if !isTerminal(a) {
			running = a
		}
	}
	if running == nil || !hasFinalizer(running, FinalizerTracking) {
		t.Fatalf("running adopted pod %v has no tracking finalizer", running)
	}
	if len(p.Count) != 1 || p.Count[0].Status.Phase != PhaseSucceeded {
		t.Fatalf("counted %v", p.Count)
	}
	// New pods keep the template's labels (they must match the manual
	// selector, here an older Job's uid) and are owned by this Job.
	if len(p.Create) != 1 {
		t.Fatalf("created %d, want 1", len(p.Create))
	}
	c := p.Create[0]
	if c.Metadata.Labels[LabelControllerUID] != "old-uid" || controllerRef(c).GetUid() != "job-uid" {
		t.Fatalf("new pod labels %v owner %v", c.Metadata.Labels, c.Metadata.OwnerReferences)
	}
	if p.Empty(job.Status) {
		t.Fatal("a plan that adopts is not empty")
	}
}
