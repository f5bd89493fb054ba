package cronjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobctl "github.com/drover-dev/drover/controller/job"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

var ny = mustZone("America/New_York")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func cronJob(schedule, zone string, created time.Time) *v1.CronJob {
	cj := &v1.CronJob{
		Metadata: &v1.ObjectMeta{Name: "cj", Namespace: "default", Uid: "cj-uid", CreationTimestamp: timestamppb.New(created)},
		Spec: &v1.CronJobSpec{Schedule: schedule, JobTemplate: &v1.JobTemplateSpec{
			Metadata: &v1.ObjectMeta{Labels: map[string]string{"team": "a"}},
			Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
				RestartPolicy: "Never", Containers: []*v1.Container{{Name: "c", Image: "busybox"}},
			}}},
		}},
	}
	if zone != "" {
		cj.Spec.TimeZone = &zone
	}
	validation.DefaultCronJob(cj)
	return cj
}

// world is a CronJob and its Jobs, advanced by applying plans the way the
// controller does; Jobs finish when the test says.
type world struct {
	t    *testing.T
	cj   *v1.CronJob
	jobs map[string]*v1.Job
	now  time.Time
	runs []time.Time // schedule times of created Jobs, real instants
	evs  []Event
	uid  int
}

func newWorld(t *testing.T, cj *v1.CronJob, now time.Time) *world {
	return &world{t: t, cj: cj, jobs: map[string]*v1.Job{}, now: now}
}

func (w *world) step() *Plan {
	var owned []*v1.Job
	for _, j := range w.jobs {
		owned = append(owned, j)
	}
	p := plan(Input{CronJob: w.cj, Jobs: owned, Now: w.now, Minute: time.Minute,
		Taken:  func(n string) bool { return w.jobs[n] != nil },
		NewUID: func() string { w.uid++; return fmt.Sprintf("uid-%d", w.uid) }})
	w.cj.Status = p.Status
	for _, j := range p.Delete {
		delete(w.jobs, j.Metadata.Name)
	}
	if j := p.Create; j != nil {
		if w.jobs[j.Metadata.Name] != nil {
			w.t.Fatalf("job %s created twice", j.Metadata.Name)
		}
		w.jobs[j.Metadata.Name] = j
		st, err := time.Parse(time.RFC3339, j.Metadata.Annotations[AnnotationScheduledTimestamp])
		if err != nil {
			w.t.Fatal(err)
		}
		w.runs = append(w.runs, st)
	}
	w.evs = append(w.evs, p.Events...)
	return p
}

// runUntil advances time by each plan's RequeueAfter until end, finishing
// each created Job at once when finish is set.
func (w *world) runUntil(end time.Time, finish bool) {
	for i := 0; i < 10000; i++ {
		p := w.step()
		if finish && p.Create != nil {
			w.finish(p.Create.Metadata.Name, true, w.now.Add(time.Second))
		}
		if p.RequeueAfter <= 0 || !w.now.Add(p.RequeueAfter).Before(end) {
			return
		}
		w.now = w.now.Add(p.RequeueAfter)
	}
	w.t.Fatal("too many steps")
}

func (w *world) finish(name string, ok bool, at time.Time) {
	typ := jobctl.CondComplete
	if !ok {
		typ = jobctl.CondFailed
	}
	j := w.jobs[name]
	j.Status = &v1.JobStatus{CompletionTime: timestamppb.New(at), Conditions: []*v1.JobCondition{{Type: typ, Status: "True", LastTransitionTime: timestamppb.New(at)}}}
}

func fmtTimes(ts []time.Time, loc *time.Location) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.In(loc).Format("01-02 15:04 MST"))
	}
	return strings.Join(s, ", ")
}

// SPEC C1, C2: runs across minute, hour and day boundaries and DST
// changes, one Job per schedule time, named by minutes since the epoch.
func TestScheduleTimes(t *testing.T) {
	for _, tc := range []struct {
		name, schedule, zone string
		start, end           time.Time
		want                 string
	}{
		{"every minute across an hour", "* * * * *", "", time.Date(2026, 1, 1, 9, 57, 30, 0, time.UTC), time.Date(2026, 1, 1, 10, 2, 0, 0, time.UTC),
			"01-01 09:58 UTC, 01-01 09:59 UTC, 01-01 10:00 UTC, 01-01 10:01 UTC"},
		{"hourly across a day", "@hourly", "", time.Date(2026, 1, 1, 21, 30, 0, 0, time.UTC), time.Date(2026, 1, 2, 1, 30, 0, 0, time.UTC),
			"01-01 22:00 UTC, 01-01 23:00 UTC, 01-02 00:00 UTC, 01-02 01:00 UTC"},
		{"every 15 minutes", "*/15 * * * *", "", time.Date(2026, 1, 1, 23, 50, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 40, 0, 0, time.UTC),
			"01-02 00:00 UTC, 01-02 00:15 UTC, 01-02 00:30 UTC"},
		{"daily across a month", "@daily", "", time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC), time.Date(2026, 2, 2, 12, 0, 0, 0, time.UTC),
			"01-31 00:00 UTC, 02-01 00:00 UTC, 02-02 00:00 UTC"},
		{"zone: 9:00 in New York", "0 9 * * *", "America/New_York", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC),
			"01-01 09:00 EST, 01-02 09:00 EST"},
		// Spring forward, 8 March 2026: 02:00-03:00 does not exist; the
		// 02:00 run of that day is skipped (as the cron library and
		// Kubernetes do), the next days run at 02:00 EDT.
		{"spring forward 0 2", "0 2 * * *", "America/New_York", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), time.Date(2026, 3, 10, 12, 0, 0, 0, ny),
			"03-09 02:00 EDT, 03-10 02:00 EDT"},
		{"spring forward 30 1", "30 1 * * *", "America/New_York", time.Date(2026, 3, 7, 12, 0, 0, 0, ny), time.Date(2026, 3, 10, 12, 0, 0, 0, ny),
			"03-08 01:30 EST, 03-09 01:30 EDT, 03-10 01:30 EDT"},
		// Fall back, 1 November 2026: 01:00-02:00 happens twice; 01:30
		// runs once, at its first occurrence (Kubernetes would run twice).
		{"fall back 30 1", "30 1 * * *", "America/New_York", time.Date(2026, 10, 31, 12, 0, 0, 0, ny), time.Date(2026, 11, 3, 12, 0, 0, 0, ny),
			"11-01 01:30 EDT, 11-02 01:30 EST, 11-03 01:30 EST"},
		{"fall back 0 2", "0 2 * * *", "America/New_York", time.Date(2026, 10, 31, 12, 0, 0, 0, ny), time.Date(2026, 11, 3, 12, 0, 0, 0, ny),
			"11-01 02:00 EST, 11-02 02:00 EST, 11-03 02:00 EST"},
		{"fall back every 30 minutes", "*/30 1 * * *", "America/New_York", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 1, 4, 0, 0, 0, ny),
			"11-01 01:00 EDT, 11-01 01:30 EDT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, cronJob(tc.schedule, tc.zone, tc.start), tc.start)
			w.runUntil(tc.end, true)
			loc := time.UTC
			if tc.zone != "" {
				loc = mustZone(tc.zone)
			}
			if got := fmtTimes(w.runs, loc); got != tc.want {
				t.Errorf("runs:\n got %s\nwant %s", got, tc.want)
			}
			for _, r := range w.runs {
				name := fmt.Sprintf("cj-%d", r.Unix()/60)
				if w.jobs[name] == nil {
					t.Errorf("no job %s for %s", name, r)
				}
			}
		})
	}
}

// SPEC C2: the created Job is owned by the CronJob, annotated with its
// schedule time, labelled from the template, with a generated selector.
func TestCreatedJob(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	cj := cronJob("* * * * *", "", start.Add(-time.Minute))
	w := newWorld(t, cj, start)
	p := w.step()
	j := p.Create
	if j == nil {
		t.Fatal("no job")
	}
	want := fmt.Sprintf("cj-%d", time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).Unix()/60)
	if j.Metadata.Name != want || j.Metadata.Annotations[AnnotationScheduledTimestamp] != "2026-01-01T10:00:00Z" || j.Metadata.Labels["team"] != "a" {
		t.Fatalf("job meta: %v", j.Metadata)
	}
	ref := j.Metadata.OwnerReferences[0]
	if ref.Kind != "CronJob" || ref.Uid != "cj-uid" || !ref.GetController() {
		t.Fatalf("owner: %v", ref)
	}
	if j.Spec.Selector.MatchLabels[jobctl.LabelControllerUID] != j.Metadata.Uid || j.Spec.Template.Metadata.Labels[jobctl.LabelJobName] != want {
		t.Fatalf("selector: %v", j.Spec)
	}
	if err := validation.ValidateJob(j); err != nil {
		t.Fatalf("created job invalid: %v", err)
	}
	if p.RequeueAfter != 30*time.Second {
		t.Fatalf("requeue %v, want 30s (next minute)", p.RequeueAfter)
	}
	if got := w.cj.Status.GetLastScheduleTime().AsTime(); !got.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("lastScheduleTime %v", got)
	}
	if len(w.cj.Status.Active) != 1 || w.cj.Status.Active[0].Name != want {
		t.Fatalf("active %v", w.cj.Status.Active)
	}
	// The same instant again (another leader, a retry): nothing new (C2).
	if p := w.step(); p.Create != nil {
		t.Fatalf("second job for one time: %v", p.Create.Metadata.Name)
	}
}

// SPEC C3: after an outage only the most recent missed time runs, at most
// once; more than 100 missed times give a TooManyMissedTimes warning, and
// counting them does not iterate over every missed time.
func TestMissedTimes(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		schedule string
		outage   time.Duration
		deadline *int64
		wantRun  string // schedule time of the catch-up run, "" for none
		tooMany  bool
	}{
		{"5 missed", "* * * * *", 5*time.Minute + 30*time.Second, nil, "00:05", false},
		{"100 missed", "* * * * *", 100*time.Minute + 30*time.Second, nil, "01:40", false},
		{"101 missed", "* * * * *", 101*time.Minute + 30*time.Second, nil, "01:41", true},
		{"a year of minutes", "* * * * *", 365*24*time.Hour + 30*time.Second, nil, "00:00", true},
		{"hourly, 3 days", "@hourly", 72*time.Hour + 10*time.Minute, nil, "00:00", false},
		{"within the deadline", "*/10 * * * *", 65 * time.Minute, ptr64(600), "01:00", false},
		{"past the deadline", "*/10 * * * *", 69 * time.Minute, ptr64(60), "", false},
		{"deadline bounds the count", "* * * * *", 500 * time.Minute, ptr64(300), "08:20", false},
		{"deadline 0 needs exact time", "* * * * *", 30*time.Minute + 10*time.Second, ptr64(0), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := cronJob(tc.schedule, "", base.Add(-time.Second))
			cj.Spec.StartingDeadlineSeconds = tc.deadline
			cj.Status = &v1.CronJobStatus{LastScheduleTime: timestamppb.New(base)}
			w := newWorld(t, cj, base.Add(tc.outage))
			start := time.Now()
			w.step()
			if d := time.Since(start); d > time.Second {
				t.Errorf("planning took %v", d)
			}
			got := ""
			if len(w.runs) > 0 {
				got = w.runs[0].UTC().Format("15:04")
			}
			if len(w.runs) > 1 || got != tc.wantRun {
				t.Fatalf("runs %v, want one at %q", w.runs, tc.wantRun)
			}
			var warned bool
			for _, e := range w.evs {
				warned = warned || (e.Reason == ReasonTooManyMissedTimes && e.Type == "Warning")
			}
			if warned != tc.tooMany {
				t.Fatalf("TooManyMissedTimes = %v, want %v (%v)", warned, tc.tooMany, w.evs)
			}
			// The catch-up run is the only one: stepping again at the same
			// time creates nothing.
			if p := w.step(); p.Create != nil {
				t.Fatalf("second catch-up run %s", p.Create.Metadata.Name)
			}
		})
	}
}

func ptr64(v int64) *int64 { return &v }

// SPEC C4: Allow runs concurrently, Forbid skips while a run is active,
// Replace deletes the active run and starts the new one.
func TestConcurrencyPolicy(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		policy     string
		wantRuns   int
		wantActive int
		wantEvent  string
	}{
		{"Allow", 3, 3, ""},
		{"Forbid", 1, 1, ReasonJobAlreadyActive},
		{"Replace", 3, 1, ReasonSuccessfulDelete},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			cj := cronJob("* * * * *", "", start.Add(-time.Minute))
			cj.Spec.ConcurrencyPolicy = tc.policy
			w := newWorld(t, cj, start)
			w.runUntil(start.Add(2*time.Minute+time.Second), false) // nothing finishes
			if len(w.runs) != tc.wantRuns || len(w.jobs) != tc.wantActive || len(w.cj.Status.Active) != tc.wantActive {
				t.Fatalf("runs %d jobs %d active %v", len(w.runs), len(w.jobs), w.cj.Status.Active)
			}
			found := tc.wantEvent == ""
			for _, e := range w.evs {
				found = found || e.Reason == tc.wantEvent
			}
			if !found {
				t.Fatalf("no %s event: %v", tc.wantEvent, w.evs)
			}
			if tc.policy == "Forbid" {
				// Once the active run ends, the next schedule time runs; the
				// skipped times do not run late.
				for n := range w.jobs {
					w.finish(n, true, w.now)
				}
				w.now = w.now.Add(time.Minute)
				w.step()
				if len(w.runs) != 2 || w.runs[1].UTC().Format("15:04") != "10:03" {
					t.Fatalf("after finish: %v", fmtTimes(w.runs, time.UTC))
				}
			}
			if tc.policy == "Replace" {
				if _, ok := w.jobs[fmt.Sprintf("cj-%d", time.Date(2026, 1, 1, 10, 2, 0, 0, time.UTC).Unix()/60)]; !ok {
					t.Fatalf("the newest run should remain: %v", w.jobs)
				}
			}
		})
	}
}

// SPEC C5, C6: finished Jobs beyond the history limits are deleted oldest
// first; lastSuccessfulTime follows the newest success; suspend stops new
// runs without touching running ones.
func TestHistoryAndSuspend(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	cj := cronJob("* * * * *", "", start.Add(-time.Minute))
	w := newWorld(t, cj, start)
	for i := 0; i < 8; i++ {
		p := w.step()
		if p.Create == nil {
			t.Fatalf("step %d: no run", i)
		}
		w.finish(p.Create.Metadata.Name, i%2 == 0, w.now.Add(10*time.Second))
		w.now = w.now.Add(p.RequeueAfter)
	}
	w.step()
	var ok, failed []string
	for n, j := range w.jobs {
		if fin, s := jobFinished(j); fin && s {
			ok = append(ok, n)
		} else if fin {
			failed = append(failed, n)
		}
	}
	if len(ok) != 3 || len(failed) != 1 {
		t.Fatalf("kept %d succeeded, %d failed; want 3 and 1 (%v)", len(ok), len(failed), w.jobs)
	}
	newestFailed := fmt.Sprintf("cj-%d", time.Date(2026, 1, 1, 10, 7, 0, 0, time.UTC).Unix()/60)
	if failed[0] != newestFailed {
		t.Fatalf("kept failed %s, want the newest %s", failed[0], newestFailed)
	}
	if got := w.cj.Status.GetLastSuccessfulTime().AsTime(); !got.Equal(time.Date(2026, 1, 1, 10, 6, 10, 0, time.UTC)) {
		t.Fatalf("lastSuccessfulTime %v", got)
	}

	// Suspend: one run active, no new runs at later schedule times; the
	// active one stays.
	active := w.cj.Status.Active
	w.cj.Spec.Suspend = proto.Bool(true)
	before := len(w.runs)
	w.now = w.now.Add(5 * time.Minute)
	p := w.step()
	if p.Create != nil || len(p.Delete) != 0 || len(w.runs) != before {
		t.Fatalf("suspended cronjob acted: %v", p)
	}
	if !proto.Equal(&v1.CronJobStatus{Active: active}, &v1.CronJobStatus{Active: w.cj.Status.Active}) {
		t.Fatalf("active changed while suspended: %v", w.cj.Status.Active)
	}
	// Resuming runs the most recent missed time once.
	w.cj.Spec.Suspend = proto.Bool(false)
	if p := w.step(); p.Create == nil {
		t.Fatal("no run after resume")
	}
}

// SPEC C3: the search for the most recent time is exact for irregular
// schedules too.
func TestMostRecentIrregular(t *testing.T) {
	sched, loc, err := validation.ParseSchedule("0-4 0 * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	tl := timeline{sched: sched, loc: loc, minute: time.Minute}
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	last, found, tooMany := tl.mostRecent(after, now)
	if !found || !tooMany || !last.Equal(time.Date(2026, 3, 1, 0, 4, 0, 0, time.UTC)) {
		t.Fatalf("mostRecent = %v %v %v", last, found, tooMany)
	}
}

// The seconds-scale test hook: with a one-second schedule minute, "* * * * *"
// fires every second and Jobs are named by seconds since the epoch.
func TestScaledMinute(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 500e6, time.UTC)
	cj := cronJob("* * * * *", "", start.Add(-time.Second))
	var runs []string
	now := start
	for i := 0; i < 3; i++ {
		p := plan(Input{CronJob: cj, Now: now, Minute: time.Second, NewUID: func() string { return "u" }})
		cj.Status = p.Status
		if p.Create != nil {
			runs = append(runs, p.Create.Metadata.Name+"@"+p.Create.Metadata.Annotations[AnnotationScheduledTimestamp])
		}
		if p.RequeueAfter != 500*time.Millisecond && i == 0 || p.RequeueAfter <= 0 {
			t.Fatalf("requeue %v", p.RequeueAfter)
		}
		now = now.Add(p.RequeueAfter)
	}
	sec := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).Unix()
	want := fmt.Sprintf("cj-%d@2026-01-01T10:00:00Z cj-%d@2026-01-01T10:00:01Z cj-%d@2026-01-01T10:00:02Z", sec, sec+1, sec+2)
	if got := strings.Join(runs, " "); got != want {
		t.Fatalf("runs\n got %s\nwant %s", got, want)
	}
}
