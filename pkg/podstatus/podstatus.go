// Package podstatus makes a pod terminal on its worker's behalf: when the
// controller, not the worker, decides that a pod has ended (its node was
// lost, SPEC N2), the pod's status must say so everywhere, not only in its
// phase: no container left running or waiting, none ready, and the Ready
// condition False (issue 13 #11). Every place in the controller that sets a
// pod's phase to Succeeded or Failed goes through Terminate; readers (the
// Job controller's exit-code rules, the CLI) tell the container states it
// filled in from observed ones with Observed.
package podstatus

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// ReasonContainerStatusUnknown is the reason of a container state that
// Terminate set: the container was running or waiting when the pod was made
// terminal, and nobody saw it exit. Kubernetes' kubelet uses the same reason
// (with exit code 137) for containers it cannot find when a pod ends.
const ReasonContainerStatusUnknown = "ContainerStatusUnknown"

// ExitCodeUnknown is the exit code Terminate gives such a container (the
// code of a SIGKILL, as in Kubernetes). It was not observed: see Observed.
const ExitCodeUnknown = 137

// ReasonPodCompleted is the reason of a terminal pod's Ready=False condition,
// as the worker and Kubernetes write it.
const ReasonPodCompleted = "PodCompleted"

// Terminate sets pod's phase (Succeeded or Failed), reason and message, and
// makes its status agree: every container that is running or waiting is
// terminated (reason ContainerStatusUnknown, exit code 137, finished now,
// started when it started running, the message naming the pod's reason),
// no container is ready or started, and the Ready condition is False with
// reason PodCompleted. Containers that had already terminated keep their
// state, exit code and times. Conditions of other types are left alone.
func Terminate(pod *v1.Pod, phase, reason, message string, now *timestamppb.Timestamp) {
	if pod.Status == nil {
		pod.Status = &v1.PodStatus{}
	}
	st := pod.Status
	st.Phase, st.Reason, st.Message = phase, reason, message
	for _, cs := range st.ContainerStatuses {
		terminateContainer(cs, reason, message, now)
	}
	var ready *v1.PodCondition
	for _, c := range st.Conditions {
		if c.GetType() == "Ready" {
			ready = c
		}
	}
	if ready == nil {
		ready = &v1.PodCondition{Type: "Ready"}
		st.Conditions = append(st.Conditions, ready)
	}
	if ready.Status != "False" {
		ready.Status, ready.LastTransitionTime = "False", now
	}
	ready.Reason, ready.Message = ReasonPodCompleted, ""
}

// terminateContainer turns a running or waiting container state into a
// terminated one, and the container not ready.
func terminateContainer(cs *v1.ContainerStatus, reason, message string, now *timestamppb.Timestamp) {
	cs.Ready = false
	cs.Started = proto.Bool(false)
	if cs.GetState().GetTerminated() != nil {
		return
	}
	term := &v1.ContainerStateTerminated{
		ExitCode:    ExitCodeUnknown,
		Reason:      ReasonContainerStatusUnknown,
		Message:     unknownMessage(cs, reason, message),
		StartedAt:   cs.GetState().GetRunning().GetStartedAt(),
		FinishedAt:  now,
		ContainerId: cs.GetContainerId(),
	}
	cs.State = &v1.ContainerState{Terminated: term}
}

func unknownMessage(cs *v1.ContainerStatus, reason, message string) string {
	was := "Running"
	if cs.GetState().GetRunning() == nil {
		was = "Waiting"
	}
	why := reason
	if message != "" {
		why = fmt.Sprintf("%s: %s", reason, message)
	}
	return fmt.Sprintf("the container was %s when the pod was terminated (%s); its exit status is unknown", was, why)
}

// Observed reports whether a terminated container state's exit code was seen
// (reported by a worker), and not filled in by Terminate. Exit-code rules
// (SPEC J15 onExitCodes) match only observed exit codes: a pod lost with its
// node matches through its DisruptionTarget condition instead.
func Observed(t *v1.ContainerStateTerminated) bool {
	return t != nil && t.GetReason() != ReasonContainerStatusUnknown
}
