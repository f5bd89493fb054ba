package validation

import v1 "github.com/drover-dev/drover/pkg/api/drover/v1"

// Defaults applied by DefaultJob.
const (
	DefaultNamespace                     = "default"
	DefaultBackoffLimit                  = 6
	DefaultTerminationGracePeriodSeconds = 30
)

// DefaultJob sets, in place, the defaults Kubernetes gives a Job (SPEC J3,
// J6, J9, J16): apiVersion batch/v1 and kind Job; namespace "default";
// parallelism 1; completions 1 unless the Job uses the work-queue pattern
// (completions unset and parallelism set: completions stays unset);
// backoffLimit 6 (the largest int32 when backoffLimitPerIndex is set, as in
// Kubernetes); completionMode NonIndexed; podReplacementPolicy Failed;
// suspend and manualSelector false; the template's
// terminationGracePeriodSeconds 30; onPodConditions status True. Fields
// already set are kept, restartPolicy included. A nil job is left alone.
func DefaultJob(job *v1.Job) {
	if job == nil {
		return
	}
	if job.ApiVersion == "" {
		job.ApiVersion = "batch/v1"
	}
	if job.Kind == "" {
		job.Kind = "Job"
	}
	if job.Metadata == nil {
		job.Metadata = &v1.ObjectMeta{}
	}
	if job.Metadata.Namespace == "" {
		job.Metadata.Namespace = DefaultNamespace
	}
	if job.Spec == nil {
		job.Spec = &v1.JobSpec{}
	}
	s := job.Spec
	switch {
	case s.Completions == nil && s.Parallelism == nil:
		s.Completions = ptr[int32](1)
		s.Parallelism = ptr[int32](1)
	case s.Parallelism == nil:
		s.Parallelism = ptr[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr[int32](1<<31 - 1)
		} else {
			s.BackoffLimit = ptr[int32](DefaultBackoffLimit)
		}
	}
	if s.CompletionMode == "" {
		s.CompletionMode = "NonIndexed"
	}
	if s.PodReplacementPolicy == "" {
		s.PodReplacementPolicy = "Failed"
	}
	if s.Suspend == nil {
		s.Suspend = ptr(false)
	}
	if s.ManualSelector == nil {
		s.ManualSelector = ptr(false)
	}
	if ps := s.GetTemplate().GetSpec(); ps != nil && ps.TerminationGracePeriodSeconds == nil {
		ps.TerminationGracePeriodSeconds = ptr[int64](DefaultTerminationGracePeriodSeconds)
	}
	for _, r := range s.GetPodFailurePolicy().GetRules() {
		for _, c := range r.GetOnPodConditions() {
			if c.Status == "" {
				c.Status = "True"
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
