package node

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// TestLostPodContainersTerminatedNotReady (issue 13 #11, SPEC N2, P2): a
// pod failed with NodeLost no longer shows its container running and ready
// (READY 1/1 in `drover get pods`): every container that was running or
// waiting is terminated, none is ready, and the Ready condition is False.
func TestLostPodContainersTerminatedNotReady(t *testing.T) {
	f := newFixture(t)
	f.node("gone", 0) // no liveness key: lost as soon as a leader looks
	start := timestamppb.Now()
	p := &v1.Pod{ApiVersion: "v1", Kind: "Pod",
		Metadata: &v1.ObjectMeta{Name: "r", Namespace: "default", Uid: "uid-r", CreationTimestamp: start},
		Spec: &v1.PodSpec{NodeName: "gone", Containers: []*v1.Container{
			{Name: "main", Image: "x", Command: []string{"sleep", "1000"}},
			{Name: "side", Image: "x", Command: []string{"sleep", "1000"}},
		}},
		Status: &v1.PodStatus{Phase: "Running", StartTime: start,
			Conditions: []*v1.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: start}},
			ContainerStatuses: []*v1.ContainerStatus{
				{Name: "main", Ready: true, Started: proto.Bool(true),
					State: &v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: start}}},
				{Name: "side", State: &v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
			}}}
	if _, err := f.st.Txn().Create(p).PutAssignment(p).Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.run()
	eventually(t, "pod r failed with NodeLost", func() bool { return lostPod(f.getPod("r")) })

	got := f.getPod("r").GetStatus()
	for _, cs := range got.GetContainerStatuses() {
		term := cs.GetState().GetTerminated()
		if cs.GetReady() || cs.GetState().GetRunning() != nil || cs.GetState().GetWaiting() != nil || term == nil {
			t.Errorf("container %s: ready=%t state %v, want terminated and not ready", cs.GetName(), cs.GetReady(), cs.GetState())
			continue
		}
		if term.GetExitCode() == 0 || term.GetFinishedAt() == nil {
			t.Errorf("container %s: terminated %v, want a non-zero exit code and a finish time", cs.GetName(), term)
		}
	}
	for _, c := range got.GetConditions() {
		if c.GetType() == "Ready" && c.GetStatus() != "False" {
			t.Errorf("Ready condition %v, want False", c)
		}
	}
}
