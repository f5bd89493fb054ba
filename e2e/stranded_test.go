package e2e

// Stranded pods (issue 13 #1): a pod whose container was never created must
// still end (SPEC J11, N3, P1): started, or failed and counted, or removed.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/pkg/store"
)

// pinnedJob is a one-pod Job pinned to node whose pod runs script, with a
// termination grace period of grace seconds.
func pinnedJob(name, node string, grace int, script string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %[1]s
spec:
  backoffLimit: 6
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: %[3]d
      nodeSelector:
        kubernetes.io/hostname: %[2]s
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", %[4]q]
`, name, node, grace, script)
}

// boundPod waits for a pod of job bound to node (its assignment written)
// and returns its name.
func (c *cluster) boundPod(job, node string) string {
	c.t.Helper()
	var name string
	c.eventually("a pod of "+job+" bound to "+node, 30*time.Second, func() error {
		for _, p := range c.pods(job) {
			if p.GetSpec().GetNodeName() == node && p.GetMetadata().GetDeletionTimestamp() == nil {
				name = p.GetMetadata().GetName()
				return nil
			}
		}
		return fmt.Errorf("no pod of %s bound to %s", job, node)
	})
	return name
}

// keys returns the keys under prefix.
func (c *cluster) keysUnder(prefix string) []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.etcd.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

// TestFrozenWorkerPodDeletedBeforeStart (issue 13 #1b; SPEC J11, J12, P2):
// a worker is frozen (SIGSTOP) while a pod is bound to it and then deleted,
// so that on SIGCONT it learns of the pod and of its deletion before it has
// created its container. The pod must end within its grace period (it was
// stuck Terminating), be counted and removed, and its Job get a
// replacement; a Job deleted the same way must leave neither pod nor
// assignment in etcd.
func TestFrozenWorkerPodDeletedBeforeStart(t *testing.T) {
	const grace = 45 // seconds; the lease (60 s) outlives every freeze here
	c := newCluster(t)
	w1 := c.startWorkerWith("w1", workerOpts{heartbeat: "1s", ttl: "60s"})
	c.waitNodesReady("w1")
	defer w1.signal(syscall.SIGCONT)

	// A pod deleted while its worker is frozen.
	w1.signal(syscall.SIGSTOP)
	c.apply("pinned", pinnedJob("pinned", "w1", grace, "exit 0"))
	pod := c.boundPod("pinned", "w1")
	c.mustCLI("delete", "pod", pod)
	w1.signal(syscall.SIGCONT)
	c.eventually(pod+" ended and removed, with its assignment", grace*time.Second, func() error {
		if keys := c.keysUnder(store.AssignmentsPrefix + "w1/default/" + pod); len(keys) > 0 {
			return fmt.Errorf("assignment still stored: %v", keys)
		}
		for _, p := range c.pods("pinned") {
			if p.GetMetadata().GetName() == pod {
				return fmt.Errorf("pod %s still stored: phase %q", pod, p.GetStatus().GetPhase())
			}
		}
		return nil
	})
	job := c.waitComplete("pinned", 90*time.Second)
	if st := job.GetStatus(); st.GetSucceeded() != 1 {
		t.Errorf("status %v: want succeeded 1 (the replacement)", st)
	}
	t.Logf("job status after the deleted pod: %v", job.GetStatus())

	// A Job deleted while its worker is frozen.
	w1.signal(syscall.SIGSTOP)
	c.apply("gone", pinnedJob("gone", "w1", grace, "exec sleep 600"))
	gone := c.boundPod("gone", "w1")
	c.mustCLI("delete", "job", "gone")
	w1.signal(syscall.SIGCONT)
	c.eventually("the deleted Job's pod and assignment removed", grace*time.Second, func() error {
		if keys := c.keysUnder(store.AssignmentsPrefix + "w1/default/" + gone); len(keys) > 0 {
			return fmt.Errorf("assignments still stored: %v", keys)
		}
		if ps := c.pods("gone"); len(ps) > 0 {
			return fmt.Errorf("pod %s still stored: phase %q", ps[0].GetMetadata().GetName(), ps[0].GetStatus().GetPhase())
		}
		return nil
	})
	t.Logf("deleted Job's pod %s removed", gone)
}

// TestDevKilledDuringContainerCreation (issue 13 #1a; SPEC J11, N3): drover
// dev (etcd, controller and two in-process workers) is killed with SIGKILL
// twice while an Indexed Job of short pods runs, so that containers are
// being created at each kill, and started again on the same data dir each
// time. Every index must succeed exactly once and the Job complete: no pod
// may stay ContainerCreating because its container was half created.
func TestDevKilledDuringContainerCreation(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), etcdAddr: freeAddr(t), api: freeAddr(t)}
	t.Cleanup(c.cleanup)
	dataDir := filepath.Join(c.dir, "dev")
	startDev := func(n int) *proc {
		p := c.start(fmt.Sprintf("dev-%d", n), "dev", "--workers", "2", "--data-dir", dataDir,
			"--etcd-listen", c.etcdAddr, "--listen", c.api, "--election-ttl", "3s",
			"--heartbeat-interval", "1s", "--lease-ttl", "8s", "--log-level", "debug")
		c.eventually("the API answers", 60*time.Second, func() error {
			_, err := c.cli("get", "jobs")
			return err
		})
		return p
	}
	dev := startDev(1)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + c.etcdAddr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	c.etcd = cli

	rec := filepath.Join(c.dir, "rec")
	manifest := strings.Replace(indexJob("idx", 200, 20, rec), `>> \"$REC\""]`, `>> \"$REC\"; sleep 0.2"]`, 1)
	if manifest == indexJob("idx", 200, 20, rec) {
		t.Fatal("could not add the sleep to the Job's command")
	}
	c.apply("idx", manifest)
	for kill, at := range []int{20, 80} {
		c.eventually(fmt.Sprintf("%d indexes recorded", at), 90*time.Second, func() error {
			b, _ := os.ReadFile(rec)
			if n := strings.Count(string(b), "\n"); n < at {
				return fmt.Errorf("%d recorded", n)
			}
			return nil
		})
		dev.signal(syscall.SIGKILL)
		<-dev.done
		dev = startDev(kill + 2)
	}
	job := c.waitComplete("idx", 120*time.Second)
	st := job.GetStatus()
	if st.GetSucceeded() != 200 || st.GetCompletedIndexes() != "0-199" {
		t.Errorf("status %v: want succeeded 200, completedIndexes 0-199", st)
	}
	t.Logf("status after two kills: succeeded %d, failed %d", st.GetSucceeded(), st.GetFailed())
	for _, p := range []string{"dev-2", "dev-3"} {
		// The symptom of the issue: the id taken by a half-created
		// container that the runtime cannot find.
		if c.proc(p).logContains("runtime: container not found") {
			t.Errorf("%s logged that a container it could not start was not found", p)
		}
	}
}
