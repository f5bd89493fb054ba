package worker

import (
	"testing"
	"time"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
)

// TestFencedPodThatExitedZeroSucceeded: when the worker fences (SPEC N4), a
// pod whose containers had all exited 0 by themselves succeeded: its status
// write had not landed yet, which is what happens when renewals and writes
// fail together on a starved machine. Failing it ran its index a second time
// (issue 13 #2: "index 271: ran 2 times ... failed 1"; SPEC J11, J13). A pod
// the fence killed fails with DisruptionTarget / NodeFenced, so that a pod
// failure policy can ignore it (J15).
func TestFencedPodThatExitedZeroSucceeded(t *testing.T) {
	now := time.Unix(1800000000, 0)
	exitedWith := func(code, signal int32) ctrView {
		return ctrView{name: "c", info: &runtimev1.ContainerInfo{Id: "x", State: runtimev1.ContainerState_CONTAINER_STATE_EXITED,
			ExitCode: code, Signal: signal, StartedAtUnixNano: now.Add(-time.Second).UnixNano(), FinishedAtUnixNano: now.UnixNano()}}
	}
	for _, tc := range []struct {
		name       string
		ctrs       []ctrView
		wantPhase  string
		disruption bool
	}{
		{"exited 0 before the fence", []ctrView{exitedWith(0, 0)}, PhaseSucceeded, false},
		{"killed by the fence", []ctrView{exitedWith(137, 9)}, PhaseFailed, true},
		{"one of two killed", []ctrView{exitedWith(0, 0), exitedWith(137, 9)}, PhaseFailed, true},
		{"failed by itself before the fence", []ctrView{exitedWith(3, 0)}, PhaseFailed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := buildStatus(nil, podView{ctrs: tc.ctrs, cause: causeFenced, startTime: now.Add(-time.Second)}, now)
			if st.GetPhase() != tc.wantPhase {
				t.Fatalf("phase %s, want %s", st.GetPhase(), tc.wantPhase)
			}
			c := findCondition(st, ConditionDisruption)
			if got := c != nil && c.GetStatus() == "True" && c.GetReason() == ReasonNodeFenced; got != tc.disruption {
				t.Errorf("DisruptionTarget %v, want %v", c, tc.disruption)
			}
			if tc.disruption != (st.GetReason() == ReasonNodeFenced) {
				t.Errorf("reason %q", st.GetReason())
			}
		})
	}
}

// TestFencedBeforeCreatedIsDisrupted: a container the fence kept from ever
// starting (see podWorker.neverStarted) makes the failure a disruption too.
func TestFencedBeforeCreatedIsDisrupted(t *testing.T) {
	now := time.Unix(1800000000, 0)
	never := ctrView{name: "c", info: &runtimev1.ContainerInfo{State: runtimev1.ContainerState_CONTAINER_STATE_EXITED,
		ExitCode: ExitCodeNeverStarted, Reason: ReasonNeverStarted, FinishedAtUnixNano: now.UnixNano()}}
	st := buildStatus(nil, podView{ctrs: []ctrView{never}, cause: causeFenced}, now)
	if st.GetPhase() != PhaseFailed || st.GetReason() != ReasonNodeFenced || findCondition(st, ConditionDisruption) == nil {
		t.Fatalf("status %v", st)
	}
}
