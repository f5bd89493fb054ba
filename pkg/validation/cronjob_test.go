package validation

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func validCronJob() *v1.CronJob {
	return &v1.CronJob{
		Metadata: &v1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: &v1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: &v1.JobTemplateSpec{Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
				RestartPolicy: "OnFailure",
				Containers:    []*v1.Container{{Name: "a", Image: "busybox"}},
			}}}},
		},
	}
}

// SPEC C1: 5-field cron, @ descriptors, IANA zones; a zone prefix in the
// schedule, @every and unknown zones are refused naming the field.
func TestValidateCronJob(t *testing.T) {
	for _, s := range []string{"* * * * *", "0 2 * * *", "30 1 * * 1-5", "@yearly", "@monthly", "@weekly", "@daily", "@hourly", "@midnight", "0 0 1 jan *"} {
		cj := validCronJob()
		cj.Spec.Schedule = s
		if err := ValidateCronJob(cj); err != nil {
			t.Errorf("schedule %q: %v", s, err)
		}
	}
	for _, tz := range []string{"America/New_York", "Europe/Berlin", "UTC", "Asia/Kolkata"} {
		cj := validCronJob()
		cj.Spec.TimeZone = &tz
		if err := ValidateCronJob(cj); err != nil {
			t.Errorf("zone %q: %v", tz, err)
		}
	}
	for _, tc := range []struct {
		name string
		mod  func(*v1.CronJob)
		want string
	}{
		{"empty schedule", func(c *v1.CronJob) { c.Spec.Schedule = "" }, "spec.schedule: required"},
		{"six fields", func(c *v1.CronJob) { c.Spec.Schedule = "0 * * * * *" }, `spec.schedule: invalid value "0 * * * * *"`},
		{"bad minute", func(c *v1.CronJob) { c.Spec.Schedule = "61 * * * *" }, `spec.schedule: invalid value "61 * * * *"`},
		{"CRON_TZ prefix", func(c *v1.CronJob) { c.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" }, "spec.schedule: invalid value \"CRON_TZ=UTC 0 * * * *\": a time zone prefix is not allowed in the schedule; set spec.timeZone instead"},
		{"TZ prefix", func(c *v1.CronJob) { c.Spec.Schedule = "TZ=Europe/Berlin 0 * * * *" }, "spec.schedule: invalid value \"TZ=Europe/Berlin 0 * * * *\": a time zone prefix"},
		{"@every", func(c *v1.CronJob) { c.Spec.Schedule = "@every 1m" }, `spec.schedule: invalid value "@every 1m": @every is not supported`},
		{"unknown zone", func(c *v1.CronJob) { tz := "Mars/Olympus"; c.Spec.TimeZone = &tz }, `spec.timeZone: invalid value "Mars/Olympus": unknown time zone`},
		{"Local zone", func(c *v1.CronJob) { tz := "Local"; c.Spec.TimeZone = &tz }, `spec.timeZone: invalid value "Local"`},
		{"policy", func(c *v1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" }, `spec.concurrencyPolicy: unknown value "Sometimes"`},
		{"deadline", func(c *v1.CronJob) { d := int64(-1); c.Spec.StartingDeadlineSeconds = &d }, "spec.startingDeadlineSeconds: must be >= 0"},
		{"history", func(c *v1.CronJob) { n := int32(-1); c.Spec.FailedJobsHistoryLimit = &n }, "spec.failedJobsHistoryLimit: must be >= 0"},
		{"long name", func(c *v1.CronJob) { c.Metadata.Name = strings.Repeat("a", 53) }, "metadata.name: "},
		{"template restartPolicy", func(c *v1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "Always" }, `spec.jobTemplate.spec.template.spec.restartPolicy: unsupported value "Always"`},
		{"no template", func(c *v1.CronJob) { c.Spec.JobTemplate = nil }, "spec.jobTemplate: required"},
	} {
		cj := validCronJob()
		tc.mod(cj)
		err := ValidateCronJob(cj)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaultCronJob(t *testing.T) {
	cj := &v1.CronJob{}
	DefaultCronJob(cj)
	s := cj.Spec
	if cj.ApiVersion != "batch/v1" || cj.Kind != "CronJob" || cj.Metadata.Namespace != "default" || s.ConcurrencyPolicy != "Allow" ||
		s.GetSuspend() || s.GetSuccessfulJobsHistoryLimit() != 3 || s.GetFailedJobsHistoryLimit() != 1 {
		t.Fatalf("defaults: %v", cj)
	}
}

// FuzzParseSchedule: any schedule and zone either parse or fail with an
// error, never panic, and a parsed schedule's next time is after its start.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"* * * * *", "0 2 * * *", "@daily", "CRON_TZ=UTC * * * * *", "*/0 * * * *", "0 0 30 2 *", "1-5/2 1,2 * jan-mar mon"} {
		f.Add(s, "America/New_York")
	}
	f.Fuzz(func(t *testing.T, schedule, zone string) {
		sched, loc, err := ParseSchedule(schedule, zone)
		if err != nil {
			return
		}
		start := time.Date(2026, 3, 8, 1, 0, 0, 0, loc)
		if n := sched.Next(start); !n.IsZero() && !n.After(start) {
			t.Fatalf("%q: next %v not after %v", schedule, n, start)
		}
	})
}
