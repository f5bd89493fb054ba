package job

import (
	"fmt"
	"strconv"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/podstatus"
)

// Pod failure policy actions (SPEC J15).
const (
	ActionFailJob   = "FailJob"
	ActionIgnore    = "Ignore"
	ActionCount     = "Count"
	ActionFailIndex = "FailIndex"
)

// Failure reasons of J15 and J16.
const (
	ReasonPodFailurePolicy         = "PodFailurePolicy"
	ReasonMaxFailedIndexesExceeded = "MaxFailedIndexesExceeded"
	ReasonFailedIndexes            = "FailedIndexes"
)

// AnnotationIndexFailureCount is put on each pod of a Job with
// backoffLimitPerIndex: the failures its index had before the pod was
// created (SPEC J16). The newest pod of an index thus carries the index's
// count, even if older failed pods are deleted by hand.
const AnnotationIndexFailureCount = "batch.kubernetes.io/job-index-failure-count"

// failure is what a failed pod means for its Job.
type failure struct {
	action  string // one of the Action constants
	message string // for FailJob: why, naming the pod and the rule
}

// failureAction decides what a failed pod means (SPEC J15): pods the
// controller stopped for a suspension are ignored (J9), those it stopped
// for another reason count; otherwise the first rule of
// spec.podFailurePolicy that matches wins; with no match the failure counts.
func failureAction(spec *v1.JobSpec, pod *v1.Pod) failure {
	switch pod.GetMetadata().GetAnnotations()[AnnotationTerminationReason] {
	case "":
	case TerminationSuspended:
		return failure{action: ActionIgnore}
	default:
		// Stopped by the controller (excess, Job finished): its exit
		// status says nothing about the workload, so no rule applies.
		return failure{action: ActionCount}
	}
	for i, r := range spec.GetPodFailurePolicy().GetRules() {
		if why, ok := matchRule(r, pod); ok {
			return failure{action: r.GetAction(), message: fmt.Sprintf("%s matching %s rule at index %d", why, r.GetAction(), i)}
		}
	}
	return failure{action: ActionCount}
}

// matchRule reports whether a failed pod matches r, and a description.
func matchRule(r *v1.PodFailurePolicyRule, pod *v1.Pod) (string, bool) {
	ref := pod.GetMetadata().GetNamespace() + "/" + pod.GetMetadata().GetName()
	if req := r.GetOnExitCodes(); req != nil {
		for _, cs := range pod.GetStatus().GetContainerStatuses() {
			if req.ContainerName != nil && req.GetContainerName() != cs.GetName() {
				continue
			}
			term := cs.GetState().GetTerminated()
			if !podstatus.Observed(term) {
				continue // running, or ended with its node: no exit code was seen
			}
			code := term.GetExitCode()
			if code == 0 {
				continue
			}
			in := false
			for _, v := range req.GetValues() {
				if v == code {
					in = true
					break
				}
			}
			if in == (req.GetOperator() == "In") {
				return fmt.Sprintf("Container %s for pod %s failed with exit code %d", cs.GetName(), ref, code), true
			}
		}
		return "", false
	}
	for _, pat := range r.GetOnPodConditions() {
		want := pat.GetStatus()
		if want == "" {
			want = "True"
		}
		if c := podCondition(pod, pat.GetType()); c != nil && c.GetStatus() == want {
			return fmt.Sprintf("Pod %s has condition %s", ref, pat.GetType()), true
		}
	}
	return "", false
}

// podFailureCount is the AnnotationIndexFailureCount of a pod (0 if unset).
func podFailureCount(pod *v1.Pod) int32 {
	n, err := strconv.ParseInt(pod.GetMetadata().GetAnnotations()[AnnotationIndexFailureCount], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// indexFailures returns, per index, the failures that count towards
// backoffLimitPerIndex (SPEC J16): the largest count a pod of the index
// carries, plus one if that pod failed and its failure counts; and the
// indexes that a FailIndex rule failed outright.
func indexFailures(spec *v1.JobSpec, pods []*v1.Pod) (counts map[int]int32, failIndex indexSet) {
	counts, failIndex = map[int]int32{}, indexSet{}
	for _, pod := range pods {
		i := podIndex(pod.GetMetadata().GetAnnotations())
		if i < 0 {
			continue
		}
		n := podFailureCount(pod)
		if pod.GetStatus().GetPhase() == PhaseFailed {
			switch failureAction(spec, pod).action {
			case ActionIgnore:
			case ActionFailIndex:
				failIndex[i] = true
				n++
			default:
				n++
			}
		}
		if n > counts[i] {
			counts[i] = n
		}
	}
	return counts, failIndex
}

// onFailureRestarts sums the container restarts of a Job's active pods when
// its pods restart in place (restartPolicy OnFailure). Each restart is a
// failure for the backoff limit (SPEC J5, J6), as Kubernetes counts them:
// the restarts of pods that are still Pending or Running.
func onFailureRestarts(spec *v1.JobSpec, pods []*v1.Pod) int32 {
	if spec.GetTemplate().GetSpec().GetRestartPolicy() != "OnFailure" {
		return 0
	}
	var n int32
	for _, pod := range pods {
		if isTerminal(pod) {
			continue
		}
		for _, cs := range pod.GetStatus().GetContainerStatuses() {
			n += cs.GetRestartCount()
		}
	}
	return n
}
