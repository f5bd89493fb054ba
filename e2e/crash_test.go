package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/etcdtest"
)

// TestControllerCrashExactCounts: a 200-completion Job runs while its only
// controller is killed with SIGKILL at random moments, four times, and
// restarted each time (SPEC J11, L2). The Job ends with succeeded exactly
// 200, and the store shows no completion lost or counted twice.
func TestControllerCrashExactCounts(t *testing.T) { controllerCrashes(t, 200, 4) }

// TestControllerCrashExactCountsLong is the 1000-completion, 10-kill version.
func TestControllerCrashExactCountsLong(t *testing.T) {
	if os.Getenv("DROVER_LONG") != "1" {
		t.Skip("set DROVER_LONG=1 (make test-long)")
	}
	controllerCrashes(t, 1000, 10)
}

// controllerCrashes runs etcd in the test process, two worker processes and
// one `drover controller` process that it kills and restarts kills times
// while a Job of completions pods runs.
//
// The invariant checked at the end is exact. A pod is created in the same
// transaction that rewrites its Job, and counted in the same transaction
// that removes its tracking finalizer, so a kill between any two writes
// loses nothing and repeats nothing: every pod the Job owns is terminal and
// without the finalizer, status.succeeded equals the number of its
// Succeeded pods and status.failed the number of its Failed ones, and since
// the active count never exceeds the remaining completions (J2), exactly
// completions pods succeeded.
func controllerCrashes(t *testing.T, completions, kills int) {
	cli, srv := etcdtest.Start(t)
	c := &cluster{t: t, dir: t.TempDir(), etcdAddr: strings.TrimPrefix(srv.Endpoint(), "http://"), etcd: cli, api: freeAddr(t)}
	t.Cleanup(c.cleanup)
	startCtrl := func(n int) *proc {
		p := c.start(fmt.Sprintf("controller-%d", n), "controller", "--etcd-endpoints", srv.Endpoint(),
			"--listen", c.api, "--identity", fmt.Sprintf("ctrl-%d", n), "--election-ttl", "2s", "--log-level", "debug")
		return p
	}
	ctrl := startCtrl(0)
	c.eventually("the API answers", 30*time.Second, func() error { _, err := c.cli("get", "jobs"); return err })
	c.startWorker("w1")
	c.startWorker("w2")
	jtWaitReady(t, c, 2)

	jtApply(t, c, "crash", jobManifest("crash", fmt.Sprintf("  completions: %d\n  parallelism: 20\n", completions), "Never", c.dir, `echo ok`))
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill times seeded with %d", seed)
	start := time.Now()
	for k := 1; k <= kills; k++ {
		// Let the Job progress a random while under this controller.
		target := int32(k * completions / (kills + 2))
		jtEventually(t, fmt.Sprintf("%d succeeded", target), 120*time.Second, func() error {
			j, err := jtJob(c, "crash")
			if err != nil {
				return err
			}
			if s := j.GetStatus().GetSucceeded(); s < target {
				return fmt.Errorf("%d succeeded", s)
			}
			return nil
		})
		time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond)
		j, _ := jtJob(c, "crash")
		ctrl.signal(syscall.SIGKILL)
		<-ctrl.done
		t.Logf("kill %d: controller killed at succeeded %d, active %d", k, j.GetStatus().GetSucceeded(), j.GetStatus().GetActive())
		ctrl = startCtrl(k)
	}
	job := jtWaitCondition(t, c, "crash", "Complete", 180*time.Second)
	t.Logf("measured: %d completions with %d controller kills in %v", completions, kills, time.Since(start).Round(100*time.Millisecond))

	pods := jtPods(t, c, labelled("job-name", "crash"))
	st := job.GetStatus()
	byPhase := phases(pods)
	for _, p := range pods {
		for _, f := range p.GetMetadata().GetFinalizers() {
			if f == "batch.kubernetes.io/job-tracking" {
				t.Errorf("pod %s (%s) still has the tracking finalizer: not counted", p.Metadata.Name, p.GetStatus().GetPhase())
			}
		}
		if ref := p.GetMetadata().GetOwnerReferences(); len(ref) != 1 || ref[0].GetUid() != job.Metadata.Uid {
			t.Errorf("pod %s owners %v", p.Metadata.Name, ref)
		}
	}
	if st.GetSucceeded() != int32(completions) || int(st.GetSucceeded()) != byPhase["Succeeded"] {
		t.Errorf("status.succeeded %d, Succeeded pods %d: want both %d", st.GetSucceeded(), byPhase["Succeeded"], completions)
	}
	if int(st.GetFailed()) != byPhase["Failed"] {
		t.Errorf("status.failed %d, Failed pods %d: want equal", st.GetFailed(), byPhase["Failed"])
	}
	if n := byPhase["Succeeded"] + byPhase["Failed"]; n != len(pods) || st.GetActive() != 0 {
		t.Errorf("pods by phase %v, active %d: want every pod terminal", byPhase, st.GetActive())
	}
}
