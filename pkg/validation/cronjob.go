package validation

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones even on hosts without /usr/share/zoneinfo (SPEC C1)

	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Limits and defaults of CronJob fields, as in Kubernetes (SPEC C1-C6).
const (
	// MaxCronJobNameLength leaves room in a Job name (at most 63) for the
	// "-<minutes since the epoch>" suffix (SPEC C2).
	MaxCronJobNameLength = 52
	// DefaultSuccessfulJobsHistoryLimit and DefaultFailedJobsHistoryLimit
	// are SPEC C5's defaults.
	DefaultSuccessfulJobsHistoryLimit = 3
	DefaultFailedJobsHistoryLimit     = 1
)

// scheduleParser reads standard 5-field cron and the @ descriptors
// (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly).
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a CronJob's spec.schedule and spec.timeZone (SPEC
// C1). An empty zone is UTC. It refuses a CRON_TZ= or TZ= prefix in the
// schedule (the zone belongs in spec.timeZone), @every, and unknown zones.
// The returned error names no field; ValidateCronJob adds the path.
func ParseSchedule(schedule, timeZone string) (cron.Schedule, *time.Location, error) {
	loc, err := ParseTimeZone(timeZone)
	if err != nil {
		return nil, nil, err
	}
	s := strings.TrimSpace(schedule)
	switch {
	case s == "":
		return nil, nil, fmt.Errorf("required")
	case strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ="):
		return nil, nil, fmt.Errorf("invalid value %q: a time zone prefix is not allowed in the schedule; set spec.timeZone instead", schedule)
	case strings.HasPrefix(s, "@every"):
		return nil, nil, fmt.Errorf("invalid value %q: @every is not supported; use 5-field cron syntax or @yearly, @monthly, @weekly, @daily, @hourly", schedule)
	}
	sched, err := scheduleParser.Parse(s)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid value %q: %v", schedule, err)
	}
	return sched, loc, nil
}

// ParseTimeZone loads an IANA zone; "" is UTC. "Local" is refused: the
// controller's local zone differs between replicas.
func ParseTimeZone(name string) (*time.Location, error) {
	switch name {
	case "":
		return time.UTC, nil
	case "Local":
		return nil, fmt.Errorf(`invalid value "Local": must be an IANA time zone name such as Europe/Berlin`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("invalid value %q: unknown time zone (must be an IANA name such as America/New_York)", name)
	}
	return loc, nil
}

// DefaultCronJob sets, in place, the defaults Kubernetes gives a CronJob
// (SPEC C4-C6): apiVersion batch/v1, kind CronJob, namespace "default",
// concurrencyPolicy Allow, suspend false, history limits 3 and 1. The Job
// template is defaulted when each Job is made from it.
func DefaultCronJob(cj *v1.CronJob) {
	if cj == nil {
		return
	}
	if cj.ApiVersion == "" {
		cj.ApiVersion = "batch/v1"
	}
	if cj.Kind == "" {
		cj.Kind = "CronJob"
	}
	if cj.Metadata == nil {
		cj.Metadata = &v1.ObjectMeta{}
	}
	if cj.Metadata.Namespace == "" {
		cj.Metadata.Namespace = DefaultNamespace
	}
	if cj.Spec == nil {
		cj.Spec = &v1.CronJobSpec{}
	}
	s := cj.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = "Allow"
	}
	if s.Suspend == nil {
		s.Suspend = ptr(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = ptr[int32](DefaultSuccessfulJobsHistoryLimit)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = ptr[int32](DefaultFailedJobsHistoryLimit)
	}
}

// ValidateCronJob checks a CronJob as submitted (SPEC O1, O4, C1-C6),
// including its Job template by the Job rules, and returns nil or an
// ErrorList naming every bad field.
func ValidateCronJob(cj *v1.CronJob) error {
	e := &errs{}
	if cj == nil {
		e.add("", "no cronjob given", nil)
		return e.list.Err()
	}
	if av := cj.GetApiVersion(); av != "" && av != "batch/v1" {
		e.add("apiVersion", fmt.Sprintf("unknown value %q: must be batch/v1", av), av)
	}
	if k := cj.GetKind(); k != "" && k != "CronJob" {
		e.add("kind", fmt.Sprintf("unknown value %q: must be CronJob", k), k)
	}
	validateObjectMeta(e, "metadata", cj.GetMetadata(), MaxCronJobNameLength)
	s := cj.GetSpec()
	p := path("spec")
	if s == nil {
		e.add(p, "required", nil)
		return e.list.Err()
	}
	if s.TimeZone != nil {
		if _, err := ParseTimeZone(s.GetTimeZone()); err != nil {
			e.add(p.child("timeZone"), err.Error(), s.GetTimeZone())
		}
	}
	if _, _, err := ParseSchedule(s.GetSchedule(), ""); err != nil {
		e.add(p.child("schedule"), err.Error(), s.GetSchedule())
	}
	if s.StartingDeadlineSeconds != nil && s.GetStartingDeadlineSeconds() < 0 {
		e.add(p.child("startingDeadlineSeconds"), "must be >= 0", s.GetStartingDeadlineSeconds())
	}
	switch cp := s.GetConcurrencyPolicy(); cp {
	case "", "Allow", "Forbid", "Replace":
	default:
		e.add(p.child("concurrencyPolicy"), unknownValue(cp, "Allow", "Forbid", "Replace"), cp)
	}
	if s.SuccessfulJobsHistoryLimit != nil && s.GetSuccessfulJobsHistoryLimit() < 0 {
		e.add(p.child("successfulJobsHistoryLimit"), "must be >= 0", s.GetSuccessfulJobsHistoryLimit())
	}
	if s.FailedJobsHistoryLimit != nil && s.GetFailedJobsHistoryLimit() < 0 {
		e.add(p.child("failedJobsHistoryLimit"), "must be >= 0", s.GetFailedJobsHistoryLimit())
	}
	jt := p.child("jobTemplate")
	if s.GetJobTemplate() == nil {
		e.add(jt, "required", nil)
		return e.list.Err()
	}
	validateLabels(e, jt.child("metadata").child("labels"), s.GetJobTemplate().GetMetadata().GetLabels())
	// The template is checked as the Job it becomes, defaulted the same way.
	job := &v1.Job{Metadata: &v1.ObjectMeta{Name: cj.GetMetadata().GetName() + "-1", Namespace: cj.GetMetadata().GetNamespace()}}
	if ts := s.GetJobTemplate().GetSpec(); ts != nil {
		job.Spec = proto.Clone(ts).(*v1.JobSpec)
	}
	DefaultJob(job)
	if len(job.Spec.GetDependsOn()) > 0 {
		e.add(jt.child("spec").child("dependsOn"), "not supported in a CronJob's Job template", nil)
	}
	validateJobSpec(e, jt.child("spec"), job)
	return e.list.Err()
}
