package podstatus

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

var (
	started = timestamppb.New(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	exited  = timestamppb.New(time.Date(2026, 12, 4, 12, 1, 0, 0, time.UTC))
	now     = timestamppb.New(time.Date(2026, 12, 4, 12, 5, 0, 0, time.UTC))
)

// runningPod is a pod as its worker last reported it: container "main"
// running and ready, "init-like" waiting, "done" exited 3, Ready=True.
func runningPod() *v1.Pod {
	return &v1.Pod{Metadata: &v1.ObjectMeta{Name: "p", Namespace: "default"}, Status: &v1.PodStatus{
		Phase: "Running",
		Conditions: []*v1.PodCondition{
			{Type: "PodScheduled", Status: "True", LastTransitionTime: started},
			{Type: "Ready", Status: "True", LastTransitionTime: started},
		},
		ContainerStatuses: []*v1.ContainerStatus{
			{Name: "main", Ready: true, Started: proto.Bool(true), ContainerId: "process://1",
				State: &v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: started}}},
			{Name: "waits", State: &v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
			{Name: "done", Started: proto.Bool(false),
				State: &v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 3, Reason: "Error", StartedAt: started, FinishedAt: exited}}},
		},
	}}
}

// TestTerminate (issue 13 #11): a pod the controller fails has every
// container terminated and not ready, and Ready=False; containers that had
// exited keep what the worker saw.
func TestTerminate(t *testing.T) {
	p := runningPod()
	Terminate(p, "Failed", "NodeLost", "node n1 was lost", now)
	st := p.GetStatus()
	if st.GetPhase() != "Failed" || st.GetReason() != "NodeLost" || st.GetMessage() != "node n1 was lost" {
		t.Errorf("phase/reason/message %q/%q/%q", st.GetPhase(), st.GetReason(), st.GetMessage())
	}
	for _, cs := range st.GetContainerStatuses() {
		if cs.GetReady() || cs.GetStarted() || cs.GetState().GetRunning() != nil || cs.GetState().GetWaiting() != nil || cs.GetState().GetTerminated() == nil {
			t.Errorf("container %s: %v, want terminated, not ready, not started", cs.GetName(), cs)
		}
	}
	main, waits, done := st.ContainerStatuses[0].State.Terminated, st.ContainerStatuses[1].State.Terminated, st.ContainerStatuses[2].State.Terminated
	if main.GetExitCode() != ExitCodeUnknown || main.GetReason() != ReasonContainerStatusUnknown ||
		!proto.Equal(main.GetStartedAt(), started) || !proto.Equal(main.GetFinishedAt(), now) || main.GetContainerId() != "process://1" ||
		!strings.Contains(main.GetMessage(), "Running") || !strings.Contains(main.GetMessage(), "NodeLost") {
		t.Errorf("running container now %v", main)
	}
	if waits.GetExitCode() != ExitCodeUnknown || waits.GetStartedAt() != nil || !proto.Equal(waits.GetFinishedAt(), now) || !strings.Contains(waits.GetMessage(), "Waiting") {
		t.Errorf("waiting container now %v", waits)
	}
	if done.GetExitCode() != 3 || !proto.Equal(done.GetFinishedAt(), exited) || !Observed(done) {
		t.Errorf("exited container changed: %v", done)
	}
	if Observed(main) || Observed(waits) || Observed(nil) {
		t.Error("a filled-in state counts as observed")
	}
	var ready *v1.PodCondition
	for _, c := range st.GetConditions() {
		if c.GetType() == "Ready" {
			if ready != nil {
				t.Fatal("two Ready conditions")
			}
			ready = c
		}
	}
	if ready.GetStatus() != "False" || ready.GetReason() != ReasonPodCompleted || !proto.Equal(ready.GetLastTransitionTime(), now) {
		t.Errorf("Ready %v, want False/PodCompleted since now", ready)
	}
	if len(st.GetConditions()) != 2 {
		t.Errorf("conditions %v: other types must stay", st.GetConditions())
	}
}

// A pod without a status or a Ready condition gets Ready=False.
func TestTerminateBarePod(t *testing.T) {
	p := &v1.Pod{}
	Terminate(p, "Failed", "NodeLost", "", now)
	if c := p.GetStatus().GetConditions(); len(c) != 1 || c[0].GetType() != "Ready" || c[0].GetStatus() != "False" {
		t.Fatalf("conditions %v, want Ready=False", c)
	}
	// Already False: the transition time stays.
	p.Status.Conditions[0].LastTransitionTime = started
	Terminate(p, "Failed", "NodeLost", "", now)
	if !proto.Equal(p.Status.Conditions[0].LastTransitionTime, started) {
		t.Error("Ready's transition time moved without a transition")
	}
}
