package worker

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/worker/runtime/fake"
)

// TestOnFailureExitBeforeStartReturns (SPEC J5): a container that has
// already exited, failed, when the runtime's Run returns is restarted in
// place like any other: the pod stays Running in CrashLoopBackOff and never
// reports the terminal Failed phase (which would be final).
func TestOnFailureExitBeforeStartReturns(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	fc := clocktesting.NewFakeClock(time.Now())
	rt, err := fake.New(fake.Config{Duration: 0, FailRatio: 1, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, cli, "n1", t.TempDir(), func(c *Config) {
		c.Clock, c.Runtime, c.RuntimeName, c.InProcessRuntime = fc, rt, "fake", true
	})
	pod := newPod("n1", "instant", "exit 1")
	pod.Spec.RestartPolicy = "OnFailure"
	assign(t, w.st, pod)
	backingOff := func(restarts int32) func(*v1.Pod) bool {
		return func(p *v1.Pod) bool {
			if ph := p.GetStatus().GetPhase(); ph == PhaseFailed || ph == PhaseSucceeded {
				t.Fatalf("pod turned %s: %v", ph, p.GetStatus())
			}
			cs := p.GetStatus().GetContainerStatuses()
			return len(cs) == 1 && cs[0].GetState().GetWaiting().GetReason() == "CrashLoopBackOff" && cs[0].GetRestartCount() == restarts
		}
	}
	waitPod(t, w.st, pod, "first back-off", backingOff(0))
	fc.Step(10 * time.Second)
	waitPod(t, w.st, pod, "second back-off", backingOff(1))
}
