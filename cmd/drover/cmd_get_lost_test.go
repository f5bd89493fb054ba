package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/podstatus"
)

// A pod failed with NodeLost shows READY 0/1 and STATUS NodeLost in `drover
// get pods`, not 1/1 Running nor the filled-in container state's
// ContainerStatusUnknown (issue 13 #11).
func TestPodRowLostPod(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	p := &v1.Pod{
		Metadata: &v1.ObjectMeta{Name: "j-abcde", Namespace: "default", CreationTimestamp: timestamppb.New(now.Add(-time.Minute))},
		Spec:     &v1.PodSpec{Containers: []*v1.Container{{Name: "c"}}},
		Status: &v1.PodStatus{Phase: "Running", ContainerStatuses: []*v1.ContainerStatus{{Name: "c", Ready: true,
			State: &v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: timestamppb.New(now.Add(-time.Minute))}}}}},
	}
	podstatus.Terminate(p, "Failed", "NodeLost", "node n1 was lost", timestamppb.New(now))
	env := &cliEnv{now: func() time.Time { return now }, loc: time.UTC}
	row := env.podRow(p, false)
	if row[1] != "0/1" || row[2] != "NodeLost" {
		t.Fatalf("row %q, want READY 0/1 and STATUS NodeLost", row)
	}
}
