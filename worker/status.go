package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// Pod phases (SPEC P2).
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
)

// Why the worker stops a pod's containers.
const (
	causeNone = ""
	// causeTerminating: the assignment has a deletionTimestamp.
	causeTerminating = "Terminating"
	// causeDeadline: activeDeadlineSeconds passed (SPEC P1).
	causeDeadline = "DeadlineExceeded"
	// causeFenced: the worker could not renew its lease (SPEC N4).
	causeFenced = "NodeFenced"
	// causeTerminal: the stored pod is already Succeeded or Failed.
	causeTerminal = "Terminal"
)

// Reasons and condition types the worker writes.
const (
	ReasonDeadlineExceeded = "DeadlineExceeded"
	ReasonNodeFenced       = "NodeFenced"
	ConditionReady         = "Ready"
	ConditionDisruption    = "DisruptionTarget"
)

// A container that was never created because its pod stopped first ends
// with Kubernetes' state for it (see podWorker.neverStarted).
const (
	ReasonNeverStarted   = "ContainerStatusUnknown"
	ExitCodeNeverStarted = 137
)

// IsTerminal reports whether phase is Succeeded or Failed.
func IsTerminal(phase string) bool { return phase == PhaseSucceeded || phase == PhaseFailed }

// ctrView is what the status is computed from for one container.
type ctrView struct {
	name  string
	image string
	// info is the current attempt (nil: not created yet); prev the one
	// before it (nil: none).
	info, prev *runtimev1.ContainerInfo
	restarts   int32
	// backoff is set while a restart of a failed container is pending.
	backoff time.Duration
}

// podView is a pod as the worker sees it.
type podView struct {
	ctrs      []ctrView
	startTime time.Time
	cause     string
	hostIP    string
	// runtime names the backend, the scheme of container ids ("process://…").
	runtime string
}

func exited(info *runtimev1.ContainerInfo) bool {
	return info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_EXITED
}

func running(info *runtimev1.ContainerInfo) bool {
	return info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_RUNNING
}

// done reports whether every container has exited and none will restart.
func (v podView) done() bool {
	for _, c := range v.ctrs {
		if !exited(c.info) || c.backoff > 0 {
			return false
		}
	}
	return true
}

// phase is the pod phase the view stands for.
func (v podView) phase() string {
	if v.done() {
		if v.cause == causeDeadline {
			return PhaseFailed
		}
		// A fence kills at once (SIGKILL). A pod whose every container
		// exited 0 by itself finished its work before the kill reached it,
		// though its status had not been written when the fence came (the
		// renewals and the write failing together, on a starved machine or
		// a slow etcd): it succeeded, and failing it would run its work
		// again (SPEC J11, J13; issue 13 #2).
		if v.allSucceeded() {
			return PhaseSucceeded
		}
		return PhaseFailed
	}
	for _, c := range v.ctrs {
		if c.info != nil {
			return PhaseRunning
		}
	}
	return PhasePending
}

// allSucceeded reports whether every container exited 0, not by a signal.
func (v podView) allSucceeded() bool {
	for _, c := range v.ctrs {
		if c.info.GetExitCode() != 0 || c.info.GetSignal() != 0 {
			return false
		}
	}
	return true
}

// fencedFailure reports whether the pod failed because the worker fenced:
// a container of it was killed by a signal, or never started because of
// the fence. One that failed by itself (a non-zero exit) before the fence
// reached it is an ordinary failure (J6, J15), not a disruption.
func (v podView) fencedFailure(phase string) bool {
	if v.cause != causeFenced || phase != PhaseFailed {
		return false
	}
	for _, c := range v.ctrs {
		if c.info.GetSignal() != 0 || c.info.GetReason() == ReasonNeverStarted {
			return true
		}
	}
	return false
}

func ts(unixNano int64) *timestamppb.Timestamp {
	if unixNano == 0 {
		return nil
	}
	return timestamppb.New(time.Unix(0, unixNano))
}

func terminated(runtime string, info *runtimev1.ContainerInfo) *v1.ContainerState {
	return &v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
		ExitCode:    info.GetExitCode(),
		Signal:      info.GetSignal(),
		Reason:      info.GetReason(),
		Message:     info.GetMessage(),
		StartedAt:   ts(info.GetStartedAtUnixNano()),
		FinishedAt:  ts(info.GetFinishedAtUnixNano()),
		ContainerId: containerURI(runtime, info.GetId()),
	}}
}

// containerURI is a container id as Kubernetes shows it: "<runtime>://<id>";
// empty for a container that was never created.
func containerURI(runtime, id string) string {
	if id == "" {
		return ""
	}
	if runtime == "" {
		runtime = "process"
	}
	return runtime + "://" + id
}

// buildStatus returns the pod status for view, based on the stored status
// cur (whose conditions of other types, and transition times, it keeps).
// It is pure: now is the only time it reads.
func buildStatus(cur *v1.PodStatus, v podView, now time.Time) *v1.PodStatus {
	st := &v1.PodStatus{Phase: v.phase(), HostIp: v.hostIP}
	if !v.startTime.IsZero() {
		st.StartTime = timestamppb.New(v.startTime)
	}
	allRunning := len(v.ctrs) > 0
	for _, c := range v.ctrs {
		cs := &v1.ContainerStatus{Name: c.name, Image: c.image, RestartCount: c.restarts}
		switch {
		case c.info == nil:
			cs.State = &v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}
		case exited(c.info) && c.backoff > 0:
			cs.State = &v1.ContainerState{Waiting: &v1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %v restarting failed container %s", c.backoff, c.name),
			}}
			cs.LastState = terminated(v.runtime, c.info)
			cs.ContainerId = containerURI(v.runtime, c.info.GetId())
		case exited(c.info):
			cs.State = terminated(v.runtime, c.info)
			cs.ContainerId = containerURI(v.runtime, c.info.GetId())
			cs.Started = proto.Bool(false)
		default:
			cs.State = &v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: ts(c.info.GetStartedAtUnixNano())}}
			cs.ContainerId = containerURI(v.runtime, c.info.GetId())
			cs.Started = proto.Bool(true)
			cs.Ready = running(c.info)
		}
		if cs.LastState == nil && c.prev != nil {
			cs.LastState = terminated(v.runtime, c.prev)
		}
		allRunning = allRunning && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	switch v.cause {
	case causeDeadline:
		st.Reason = ReasonDeadlineExceeded
		st.Message = "Pod was active on the node longer than the specified deadline"
	case causeFenced:
		if !v.fencedFailure(st.Phase) {
			break
		}
		st.Reason = ReasonNodeFenced
		st.Message = "the worker could not renew its lease and killed the pod"
	}

	ready := &v1.PodCondition{Type: ConditionReady, Status: "False", Reason: "ContainersNotReady"}
	switch {
	case st.Phase == PhaseRunning && allRunning:
		ready.Status, ready.Reason = "True", ""
	case IsTerminal(st.Phase):
		ready.Reason = "PodCompleted"
	}
	conds := []*v1.PodCondition{}
	for _, c := range cur.GetConditions() {
		if c.GetType() != ConditionReady && !(c.GetType() == ConditionDisruption && v.cause == causeFenced) {
			conds = append(conds, c)
		}
	}
	conds = append(conds, withTransition(ready, findCondition(cur, ConditionReady), now))
	if v.fencedFailure(st.Phase) {
		c := &v1.PodCondition{Type: ConditionDisruption, Status: "True", Reason: ReasonNodeFenced, Message: st.Message}
		conds = append(conds, withTransition(c, findCondition(cur, ConditionDisruption), now))
	}
	st.Conditions = conds
	return st
}

func findCondition(st *v1.PodStatus, typ string) *v1.PodCondition {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// withTransition sets c's lastTransitionTime: old's when the status is
// unchanged, now otherwise.
func withTransition(c, old *v1.PodCondition, now time.Time) *v1.PodCondition {
	if old != nil && old.GetStatus() == c.GetStatus() && old.GetLastTransitionTime() != nil {
		c.LastTransitionTime = old.GetLastTransitionTime()
	} else {
		c.LastTransitionTime = timestamppb.New(now)
	}
	return c
}

// Outcomes of writeStatus besides success and transient errors.
var (
	// errPodTerminal: the stored pod is already Succeeded or Failed (the
	// controller may have failed it for node loss); it was not changed.
	errPodTerminal = errors.New("worker: pod is already terminal")
	// errPodGone: the pod no longer exists, or has another uid.
	errPodGone = errors.New("worker: pod is gone")
)

// writeStatus writes the status built from v to the pod's own key, with a
// compare-and-swap on its mod revision retried on conflict (SPEC P2). It
// never touches a pod whose stored phase is terminal, nor another pod of the
// same name. It returns the pod as stored after the call.
//
// known, if not nil, is the pod as the worker last knew it stored (its
// resourceVersion the mod revision it was read or written at): the first
// attempt is a compare-and-swap against it without reading the pod first.
// That is as safe as reading it: the swap lands only if the pod has not
// changed since, when the stored pod is known. Any other writer makes the
// swap fail, and the pod is then read and the write retried as before.
func writeStatus(ctx context.Context, st *store.Store, known *v1.Pod, namespace, name, uid string, v podView, now time.Time) (*v1.Pod, error) {
	pod := known
	for {
		if pod == nil {
			var err error
			pod, err = st.Pods().Get(ctx, namespace, name)
			if errors.Is(err, store.ErrNotFound) {
				return nil, errPodGone
			}
			if err != nil {
				return nil, err
			}
		}
		if pod.GetMetadata().GetUid() != uid {
			return nil, errPodGone
		}
		if IsTerminal(pod.GetStatus().GetPhase()) {
			return nil, errPodTerminal
		}
		next := buildStatus(pod.GetStatus(), v, now)
		if proto.Equal(next, pod.GetStatus()) {
			return pod, nil
		}
		upd := proto.Clone(pod).(*v1.Pod) // known may be shared: never change it
		upd.Status = next
		_, err := st.Txn().Update(upd).Commit(ctx)
		if errors.Is(err, store.ErrConflict) {
			pod = nil // changed (or deleted) since: read it
			continue
		}
		if err != nil {
			return nil, err
		}
		return upd, nil
	}
}
