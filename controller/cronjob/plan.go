// Package cronjob is the CronJob reconciler (SPEC C1-C6): a pure planner
// (plan.go, schedule.go) and the thin shell (controller.go) that reads the
// leader's cache and applies a plan as one fenced etcd transaction.
package cronjob

import (
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/controller/event"
	jobctl "github.com/drover-dev/drover/controller/job"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

// AnnotationScheduledTimestamp is set on each Job a CronJob creates: the
// schedule time it runs for, RFC 3339 in the CronJob's zone.
const AnnotationScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// Event reasons.
const (
	ReasonSuccessfulCreate   = "SuccessfulCreate"
	ReasonSuccessfulDelete   = "SuccessfulDelete"
	ReasonTooManyMissedTimes = "TooManyMissedTimes"
	ReasonJobAlreadyActive   = "JobAlreadyActive"
	ReasonSawCompletedJob    = "SawCompletedJob"
	ReasonUnparseable        = "UnparseableSchedule"
)

// Event is an event the plan asks to record for the CronJob.
type Event = event.Event

// Input is everything one decision needs.
type Input struct {
	CronJob *v1.CronJob
	// Jobs are the Jobs this CronJob owns (controller owner reference).
	Jobs []*v1.Job
	// Taken reports whether a Job name is in use in the namespace (by any
	// Job, owned or not).
	Taken func(name string) bool
	Now   time.Time
	// Minute is the length of a schedule minute; time.Minute in production
	// (see Config.Minute).
	Minute time.Duration
	// NewUID makes the uid of a created Job.
	NewUID func() string
}

// Plan is what one reconcile decided. Applying it is one transaction
// guarded by the CronJob's mod revision: status update, the Job created (if
// its key is still free) and the Jobs deleted.
type Plan struct {
	Status *v1.CronJobStatus
	Create *v1.Job
	// Delete are Jobs to delete (cascade: the garbage collector stops their
	// pods): Replace's active Jobs and Jobs beyond the history limits.
	Delete []*v1.Job
	Events []Event
	// RequeueAfter is when the next schedule time falls (0: no timed work).
	RequeueAfter time.Duration
}

func jobFinished(j *v1.Job) (finished, succeeded bool) {
	for _, c := range j.GetStatus().GetConditions() {
		if c.GetStatus() != "True" {
			continue
		}
		switch c.GetType() {
		case jobctl.CondComplete:
			return true, true
		case jobctl.CondFailed:
			return true, false
		}
	}
	return false, false
}

// finishTime is a finished Job's completion time, else the last transition
// of its Complete/Failed condition, else its creation.
func finishTime(j *v1.Job) time.Time {
	if ct := j.GetStatus().GetCompletionTime(); ct != nil {
		return ct.AsTime()
	}
	for _, c := range j.GetStatus().GetConditions() {
		if (c.GetType() == jobctl.CondComplete || c.GetType() == jobctl.CondFailed) && c.GetStatus() == "True" && c.GetLastTransitionTime() != nil {
			return c.GetLastTransitionTime().AsTime()
		}
	}
	return j.GetMetadata().GetCreationTimestamp().AsTime()
}

// JobName is the Job made for schedule time v (virtual): the CronJob's name
// and v in minutes since the epoch (SPEC C2).
func JobName(cronJob string, v time.Time) string {
	return fmt.Sprintf("%s-%d", cronJob, v.Unix()/60)
}

// plan decides one reconcile of a CronJob (SPEC C2-C6).
func plan(in Input) *Plan {
	cj := in.CronJob
	spec := cj.GetSpec()
	minute := in.Minute
	if minute <= 0 {
		minute = time.Minute
	}
	p := &Plan{Status: proto.Clone(statusOrEmpty(cj)).(*v1.CronJobStatus)}

	// Status from the owned Jobs (C6), and history trimming (C5).
	var active []*v1.Job
	var succeeded, failed []*v1.Job
	for _, j := range in.Jobs {
		if j.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		fin, ok := jobFinished(j)
		switch {
		case !fin:
			active = append(active, j)
		case ok:
			succeeded = append(succeeded, j)
			if t := finishTime(j); p.Status.LastSuccessfulTime == nil || t.After(p.Status.LastSuccessfulTime.AsTime()) {
				p.Status.LastSuccessfulTime = timestamppb.New(t)
			}
		default:
			failed = append(failed, j)
		}
	}
	p.Delete = append(p.Delete, trim(succeeded, int(spec.GetSuccessfulJobsHistoryLimit()))...)
	p.Delete = append(p.Delete, trim(failed, int(spec.GetFailedJobsHistoryLimit()))...)
	for _, j := range p.Delete {
		p.Events = append(p.Events, Event{Type: "Normal", Reason: ReasonSuccessfulDelete, Message: "Deleted job " + j.GetMetadata().GetName()})
	}
	setActive(p.Status, active)

	if cj.GetMetadata().GetDeletionTimestamp() != nil {
		return p
	}
	sched, loc, err := validation.ParseSchedule(spec.GetSchedule(), spec.GetTimeZone())
	if err != nil {
		p.Events = append(p.Events, Event{Type: "Warning", Reason: ReasonUnparseable, Message: fmt.Sprintf("unparseable schedule %q: %v", spec.GetSchedule(), err)})
		return p
	}
	tl := timeline{sched: sched, loc: loc, minute: minute}
	vnow := tl.virtual(in.Now)
	if next := tl.next(vnow); !next.IsZero() {
		p.RequeueAfter = tl.real(next).Sub(in.Now)
		if p.RequeueAfter <= 0 {
			p.RequeueAfter = time.Millisecond
		}
	}
	if spec.GetSuspend() {
		return p // C6: no new runs; running Jobs are left alone
	}

	// C3: the window of missed times starts at the last schedule time (or
	// the CronJob's creation) and at most startingDeadlineSeconds ago.
	earliest := cj.GetMetadata().GetCreationTimestamp().AsTime()
	if ls := p.Status.GetLastScheduleTime(); ls != nil {
		earliest = ls.AsTime()
	}
	vEarliest := tl.virtual(earliest)
	if spec.StartingDeadlineSeconds != nil {
		if d := vnow.Add(-time.Duration(spec.GetStartingDeadlineSeconds()) * time.Second); d.After(vEarliest) {
			vEarliest = d
		}
	}
	vt, found, tooMany := tl.mostRecent(vEarliest, vnow)
	if !found {
		return p
	}
	if tooMany {
		p.Events = append(p.Events, Event{Type: "Warning", Reason: ReasonTooManyMissedTimes, Message: fmt.Sprintf("too many missed start times (> %d); only the most recent, %s, runs. Set or decrease .spec.startingDeadlineSeconds or check clock skew", MaxMissedTimes, vt.Format(time.RFC3339))})
	}
	scheduled := tl.real(vt)
	name := JobName(cj.GetMetadata().GetName(), vt)
	p.Status.LastScheduleTime = timestamppb.New(scheduled)
	if in.Taken != nil && in.Taken(name) {
		return p // C2: this time already has its Job (an earlier leader made it)
	}

	// C4: concurrency policy.
	switch spec.GetConcurrencyPolicy() {
	case "Forbid":
		if len(active) > 0 {
			p.Events = append(p.Events, Event{Type: "Normal", Reason: ReasonJobAlreadyActive, Message: fmt.Sprintf("skipped the run at %s: job %s is still active (concurrencyPolicy Forbid)", vt.Format(time.RFC3339), active[0].GetMetadata().GetName())})
			return p
		}
	case "Replace":
		for _, j := range active {
			p.Delete = append(p.Delete, j)
			p.Events = append(p.Events, Event{Type: "Normal", Reason: ReasonSuccessfulDelete, Message: "Deleted job " + j.GetMetadata().GetName() + " (concurrencyPolicy Replace)"})
		}
		active = nil
	}
	job := newJob(cj, name, scheduled.In(loc).Format(time.RFC3339), in)
	p.Create = job
	active = append(active, job)
	setActive(p.Status, active)
	p.Events = append(p.Events, Event{Type: "Normal", Reason: ReasonSuccessfulCreate, Message: "Created job " + name})
	return p
}

func statusOrEmpty(cj *v1.CronJob) *v1.CronJobStatus {
	if cj.GetStatus() != nil {
		return cj.GetStatus()
	}
	return &v1.CronJobStatus{}
}

// trim returns the finished Jobs beyond limit, oldest first.
func trim(jobs []*v1.Job, limit int) []*v1.Job {
	if len(jobs) <= limit {
		return nil
	}
	sort.Slice(jobs, func(a, b int) bool {
		ta, tb := finishTime(jobs[a]), finishTime(jobs[b])
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return jobs[a].GetMetadata().GetName() < jobs[b].GetMetadata().GetName()
	})
	return jobs[:len(jobs)-limit]
}

func setActive(st *v1.CronJobStatus, active []*v1.Job) {
	refs := make([]*v1.ObjectReference, 0, len(active))
	for _, j := range active {
		refs = append(refs, &v1.ObjectReference{ApiVersion: "batch/v1", Kind: "Job", Namespace: j.GetMetadata().GetNamespace(), Name: j.GetMetadata().GetName(), Uid: j.GetMetadata().GetUid()})
	}
	sort.Slice(refs, func(a, b int) bool { return refs[a].Name < refs[b].Name })
	st.Active = refs
}

// newJob makes the Job for a schedule time (RFC 3339 in the CronJob's zone) from the CronJob's template: owned by the CronJob, annotated with
// the schedule time, defaulted and with its selector generated as the API
// server does for a submitted Job (SPEC C2, J1, J14).
func newJob(cj *v1.CronJob, name, scheduled string, in Input) *v1.Job {
	tmpl := cj.GetSpec().GetJobTemplate()
	md := &v1.ObjectMeta{
		Name:              name,
		Namespace:         cj.GetMetadata().GetNamespace(),
		Labels:            map[string]string{},
		Annotations:       map[string]string{},
		CreationTimestamp: timestamppb.New(in.Now),
		Generation:        1,
		OwnerReferences: []*v1.OwnerReference{{
			ApiVersion: "batch/v1", Kind: "CronJob", Name: cj.GetMetadata().GetName(), Uid: cj.GetMetadata().GetUid(),
			Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true),
		}},
	}
	for k, v := range tmpl.GetMetadata().GetLabels() {
		md.Labels[k] = v
	}
	for k, v := range tmpl.GetMetadata().GetAnnotations() {
		md.Annotations[k] = v
	}
	md.Annotations[AnnotationScheduledTimestamp] = scheduled
	if in.NewUID != nil {
		md.Uid = in.NewUID()
	}
	job := &v1.Job{ApiVersion: "batch/v1", Kind: "Job", Metadata: md}
	if tmpl.GetSpec() != nil {
		job.Spec = proto.Clone(tmpl.GetSpec()).(*v1.JobSpec)
	}
	validation.DefaultJob(job)
	if !job.Spec.GetManualSelector() {
		uid := md.Uid
		job.Spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{jobctl.LabelControllerUID: uid}}
		if job.Spec.Template == nil {
			job.Spec.Template = &v1.PodTemplateSpec{}
		}
		if job.Spec.Template.Metadata == nil {
			job.Spec.Template.Metadata = &v1.ObjectMeta{}
		}
		if job.Spec.Template.Metadata.Labels == nil {
			job.Spec.Template.Metadata.Labels = map[string]string{}
		}
		tl := job.Spec.Template.Metadata.Labels
		tl[jobctl.LabelControllerUID], tl[jobctl.LabelBatchControllerID] = uid, uid
		tl[jobctl.LabelJobName], tl[jobctl.LabelBatchJobName] = name, name
	}
	return job
}
