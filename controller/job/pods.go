package job

import (
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Labels, annotations and finalizers the Job controller puts on pods (SPEC J1, J4, J11).
const (
	LabelJobName           = "job-name"
	LabelControllerUID     = "controller-uid"
	LabelBatchJobName      = "batch.kubernetes.io/job-name"
	LabelBatchControllerID = "batch.kubernetes.io/controller-uid"
	AnnotationIndex        = "batch.kubernetes.io/job-completion-index"
	// FinalizerTracking stays on a Job's pod until the pod's outcome has been
	// added to the Job's status, in the same transaction that removes it (J11).
	FinalizerTracking = "batch.kubernetes.io/job-tracking"
	// AnnotationTerminationReason records why the controller stopped a pod
	// (Suspended, Excess, JobFinished); such pods are not counted as failed.
	AnnotationTerminationReason = "drover.io/termination-reason"
)

// Pod phases (SPEC P2).
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
)

// ConditionDisruptionTarget marks a pod failed by something other than its
// own exit, such as the loss of its node (SPEC N2, J15).
const ConditionDisruptionTarget = "DisruptionTarget"

func isTerminal(p *v1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == PhaseSucceeded || ph == PhaseFailed
}

func isTerminating(p *v1.Pod) bool {
	return !isTerminal(p) && p.GetMetadata().GetDeletionTimestamp() != nil
}

func isActive(p *v1.Pod) bool {
	return !isTerminal(p) && p.GetMetadata().GetDeletionTimestamp() == nil
}

func isReady(p *v1.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

func hasFinalizer(p *v1.Pod, f string) bool {
	for _, x := range p.GetMetadata().GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

func withoutFinalizer(fs []string, f string) []string {
	var out []string
	for _, x := range fs {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}

func podCondition(p *v1.Pod, typ string) *v1.PodCondition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// isDisrupted reports a pod that failed through no fault of its own.
func isDisrupted(p *v1.Pod) bool {
	c := podCondition(p, ConditionDisruptionTarget)
	return c != nil && c.GetStatus() == "True"
}

// finishTime is when a terminal pod ended: the latest container finish time,
// else the DisruptionTarget condition time, else its creation time.
func finishTime(p *v1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if ft := cs.GetState().GetTerminated().GetFinishedAt(); ft != nil && ft.AsTime().After(t) {
			t = ft.AsTime()
		}
	}
	if !t.IsZero() {
		return t
	}
	if c := podCondition(p, ConditionDisruptionTarget); c != nil && c.LastTransitionTime != nil {
		return c.LastTransitionTime.AsTime()
	}
	return p.GetMetadata().GetCreationTimestamp().AsTime()
}

// terminatedByController reports a pod the controller stopped on purpose
// (suspend, excess parallelism, Job finished): its failure is not counted.
func terminatedByController(p *v1.Pod) bool {
	return p.GetMetadata().GetAnnotations()[AnnotationTerminationReason] != ""
}

// sortForTermination orders pods so the cheapest to lose come first: unbound,
// then not yet running, then the most recently created.
func sortForTermination(pods []*v1.Pod) {
	rank := func(p *v1.Pod) int {
		switch {
		case p.GetSpec().GetNodeName() == "":
			return 0
		case p.GetStatus().GetPhase() != PhaseRunning:
			return 1
		}
		return 2
	}
	sort.SliceStable(pods, func(i, j int) bool {
		ri, rj := rank(pods[i]), rank(pods[j])
		if ri != rj {
			return ri < rj
		}
		ti := pods[i].GetMetadata().GetCreationTimestamp().AsTime()
		tj := pods[j].GetMetadata().GetCreationTimestamp().AsTime()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return pods[i].GetMetadata().GetName() < pods[j].GetMetadata().GetName()
	})
}

// newPod stamps a pod from the Job's template (SPEC J1).
func newPod(job *v1.Job, name, uid string, now time.Time) *v1.Pod {
	tmpl := job.GetSpec().GetTemplate()
	md := &v1.ObjectMeta{
		Name:              name,
		Namespace:         job.GetMetadata().GetNamespace(),
		Uid:               uid,
		Labels:            map[string]string{},
		Annotations:       map[string]string{},
		CreationTimestamp: timestamppb.New(now),
		Finalizers:        []string{FinalizerTracking},
		OwnerReferences:   []*v1.OwnerReference{ownerRef(job)},
	}
	for k, v := range tmpl.GetMetadata().GetLabels() {
		md.Labels[k] = v
	}
	for k, v := range tmpl.GetMetadata().GetAnnotations() {
		md.Annotations[k] = v
	}
	// The generated labels, unless the template sets them: with a manual
	// selector (J14) the template's labels are the user's and must keep
	// matching it, even when they name an older Job's uid.
	for k, v := range map[string]string{
		LabelJobName: job.GetMetadata().GetName(), LabelBatchJobName: job.GetMetadata().GetName(),
		LabelControllerUID: job.GetMetadata().GetUid(), LabelBatchControllerID: job.GetMetadata().GetUid(),
	} {
		if _, ok := md.Labels[k]; !ok {
			md.Labels[k] = v
		}
	}
	spec, _ := proto.Clone(tmpl.GetSpec()).(*v1.PodSpec)
	if spec == nil {
		spec = &v1.PodSpec{}
	}
	return &v1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: md,
		Spec:     spec,
		Status:   &v1.PodStatus{Phase: PhasePending},
	}
}

// ownerRef is the controller owner reference a Job puts on its pods.
func ownerRef(job *v1.Job) *v1.OwnerReference {
	return &v1.OwnerReference{
		ApiVersion: "batch/v1", Kind: "Job",
		Name: job.GetMetadata().GetName(), Uid: job.GetMetadata().GetUid(),
		Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true),
	}
}

// controllerRef returns a pod's controller owner reference, or nil.
func controllerRef(p *v1.Pod) *v1.OwnerReference {
	for _, r := range p.GetMetadata().GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}

// adopt makes job the controller of an orphan pod and tracks it with the
// Job's finalizer, so that it is counted exactly once from now on (SPEC
// J11, J14). The pod is changed in place.
func adopt(job *v1.Job, pod *v1.Pod) {
	if pod.Metadata == nil {
		pod.Metadata = &v1.ObjectMeta{}
	}
	pod.Metadata.OwnerReferences = append(pod.Metadata.OwnerReferences, ownerRef(job))
	if !hasFinalizer(pod, FinalizerTracking) {
		pod.Metadata.Finalizers = append(pod.Metadata.Finalizers, FinalizerTracking)
	}
}
