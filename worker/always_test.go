package worker

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// TestAlwaysRestartsAfterSuccess (SPEC D1): with restartPolicy Always (the
// DaemonSet pods') a container is restarted with back-off after it exits,
// even with code 0, and the pod stays Running: it never becomes terminal.
func TestAlwaysRestartsAfterSuccess(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	fc := clocktesting.NewFakeClock(time.Now())
	w := startWorker(t, cli, "n1", t.TempDir(), func(c *Config) { c.Clock = fc })
	pod := newPod("n1", "daemon", `echo ran`)
	pod.Spec.RestartPolicy = "Always"
	assign(t, w.st, pod)
	backingOff := func(restarts int32) func(*v1.Pod) bool {
		return func(p *v1.Pod) bool {
			cs := p.GetStatus().GetContainerStatuses()
			return p.GetStatus().GetPhase() == PhaseRunning && len(cs) == 1 &&
				cs[0].GetState().GetWaiting().GetReason() == "CrashLoopBackOff" && cs[0].GetRestartCount() == restarts &&
				cs[0].GetLastState().GetTerminated() != nil && cs[0].GetLastState().GetTerminated().GetExitCode() == 0
		}
	}
	waitPod(t, w.st, pod, "first back-off", backingOff(0))
	fc.Step(10 * time.Second)
	waitPod(t, w.st, pod, "second back-off", backingOff(1))
	fc.Step(20 * time.Second)
	waitPod(t, w.st, pod, "third back-off", backingOff(2))
}
