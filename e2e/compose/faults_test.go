package compose

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/worker"
	"github.com/drover-dev/drover/worker/runtime/docker"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const indexAnnotation = "batch.kubernetes.io/job-completion-index"

// jobYAML is an Indexed Job of busybox pods running script.
func jobYAML(name string, completions int, script string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: %s}
spec:
  completionMode: Indexed
  completions: %d
  parallelism: %d
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: drover/busybox:latest
        command: ["sh", "-c", %q]
        resources: {requests: {cpu: 100m, memory: 16Mi}}
`, name, completions, completions, script)
}

func (c *cluster) createJob(y string) string {
	c.t.Helper()
	name, err := c.tryCreateJob(y)
	if err != nil {
		c.t.Fatalf("create job %s: %v", name, err)
	}
	return name
}

func (c *cluster) tryCreateJob(y string) (string, error) {
	c.t.Helper()
	objs, err := manifest.Parse([]byte(y))
	if err != nil {
		c.t.Fatal(err)
	}
	job := objs[0].(*v1.Job)
	_, err = c.cli.Jobs("default").Create(c.ctx(), job)
	if status.Code(err) == codes.AlreadyExists {
		err = nil // an earlier attempt landed
	}
	return job.GetMetadata().GetName(), err
}

func (c *cluster) pods(job string) []*v1.Pod {
	l, err := c.cli.Pods("default").List(c.ctx(), client.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return nil
	}
	return l.Items
}

// running returns the job's Running pods on nodes other than notOn.
func (c *cluster) running(job, notOn string) []*v1.Pod {
	var out []*v1.Pod
	for _, p := range c.pods(job) {
		if p.GetStatus().GetPhase() == "Running" && p.GetSpec().GetNodeName() != notOn {
			out = append(out, p)
		}
	}
	return out
}

func (c *cluster) nodeReady(name string) bool {
	n, err := c.cli.Nodes().Get(c.ctx(), name)
	if err != nil {
		return false
	}
	for _, cond := range n.GetStatus().GetConditions() {
		if cond.GetType() == "Ready" {
			return cond.GetStatus() == "True"
		}
	}
	return false
}

// run is one container of a Job pod, as the Docker engine recorded it.
type run struct {
	index         int
	pod, node     string
	start, finish time.Time // finish zero: still running
}

// runs returns every container of job's pods on every node, by index.
func (c *cluster) runs(job string) map[int][]run {
	c.t.Helper()
	index := map[string]int{}
	for _, p := range c.pods(job) {
		i, err := strconv.Atoi(p.GetMetadata().GetAnnotations()[indexAnnotation])
		if err == nil {
			index[p.GetMetadata().GetUid()] = i
		}
	}
	out := map[int][]run{}
	for n := 1; n <= 3; n++ {
		rt, err := docker.New(docker.Config{Scope: c.node(n)})
		if err != nil {
			c.t.Fatal(err)
		}
		infos, err := rt.List(c.ctx(), nil)
		if err != nil {
			c.t.Fatalf("list containers of %s: %v", c.node(n), err)
		}
		for _, info := range infos {
			i, ok := index[info.GetLabels()[worker.LabelPodUID]]
			if !ok {
				continue
			}
			r := run{index: i, pod: info.GetLabels()[worker.LabelPodName], node: c.node(n), start: time.Unix(0, info.GetStartedAtUnixNano())}
			if info.GetFinishedAtUnixNano() != 0 {
				r.finish = time.Unix(0, info.GetFinishedAtUnixNano())
			}
			out[i] = append(out[i], r)
		}
	}
	return out
}

// noOverlap checks SPEC J13 from the engine's own container start and finish
// times: for each index, every container finished before the next one
// started. It logs the smallest gap between a finish and the next start, and
// fails the test if no index has been replaced (nothing was checked).
func (c *cluster) noOverlap(job, after string) {
	c.t.Helper()
	gap, pairs := time.Duration(-1), 0
	for i, rs := range c.runs(job) {
		sort.Slice(rs, func(a, b int) bool { return rs[a].start.Before(rs[b].start) })
		for k := 1; k < len(rs); k++ {
			prev, next := rs[k-1], rs[k]
			if prev.finish.IsZero() || prev.finish.After(next.start) {
				c.t.Errorf("J13: index %d ran twice at once: %s on %s (%s – %s) and %s on %s (from %s)", i,
					prev.pod, prev.node, prev.start.Format(time.StampMilli), fmtTime(prev.finish),
					next.pod, next.node, next.start.Format(time.StampMilli))
				continue
			}
			pairs++
			if d := next.start.Sub(prev.finish); gap < 0 || d < gap {
				gap = d
			}
		}
	}
	if pairs == 0 {
		c.t.Errorf("J13 after %s: no replaced index found: nothing was checked", after)
		return
	}
	c.t.Logf("MEASURED J13 after %s: %d replaced containers, each started after its predecessor finished; smallest gap %v",
		after, pairs, gap.Round(time.Millisecond))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "still running"
	}
	return t.Format(time.StampMilli)
}

// TestComposeFaults applies the demo's faults to the compose cluster, as
// assertions, and logs the measured times.
func TestComposeFaults(t *testing.T) {
	c := up(t)
	hold := c.createJob(jobYAML("hold", 6, "sleep 3600"))
	c.eventually("6 running pods", 60*time.Second, func() bool { return len(c.running(hold, "")) == 6 })

	// An image the engine lacks fails the pod at once with a clear
	// reason; nothing is pulled.
	missing := c.createJob(strings.Replace(jobYAML("missing-image", 1, "true"), "drover/busybox:latest", "drover/no-such-image:1", 1))
	var term *v1.ContainerStateTerminated
	took := c.eventually("a pod failed with ImageNotFound", 30*time.Second, func() bool {
		for _, p := range c.pods(missing) {
			for _, cs := range p.GetStatus().GetContainerStatuses() {
				if t := cs.GetState().GetTerminated(); t != nil && p.GetStatus().GetPhase() == "Failed" {
					term = t
					return true
				}
			}
		}
		return false
	})
	if term.GetReason() != docker.ReasonImageNotFound || !strings.Contains(term.GetMessage(), "drover/no-such-image:1") {
		t.Errorf("missing image: container terminated %v, want reason ImageNotFound naming the image", term)
	}
	t.Logf("missing image: pod Failed in %v: %s: %s", took.Round(time.Millisecond), term.GetReason(), term.GetMessage())
	if _, err := c.cli.Jobs("default").Delete(c.ctx(), missing, client.DeleteOptions{}); err != nil {
		t.Errorf("delete %s: %v", missing, err)
	}

	// N2, J13: a killed worker's pods are replaced once its lease expires,
	// and never run twice at once (its pods die with it: they share its
	// PID namespace).
	t.Log("--- fault 1: kill a worker (docker kill)")
	victim := c.running(hold, "")[0].GetSpec().GetNodeName()
	t0 := time.Now()
	c.docker("kill", victim)
	lost := c.eventually("node "+victim+" NotReady", 2*leaseTTL+30*time.Second, func() bool { return !c.nodeReady(victim) })
	repl := c.eventually("6 replacement pods running", 30*time.Second, func() bool { return len(c.running(hold, victim)) == 6 })
	t.Logf("MEASURED node loss: worker killed → node NotReady %v (lease TTL %v); NotReady → replacements running %v; kill → replaced %v",
		lost.Round(time.Millisecond), leaseTTL, repl.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	c.noOverlap(hold, "node loss")
	c.composeRun("start", "worker-"+strconv.Itoa(c.nodeIndex(victim)))
	c.eventually("the killed worker back", 60*time.Second, func() bool { return c.readyNodes() == 3 })

	// N4, J13: a partitioned worker that keeps running kills its own pods
	// before its lease can expire, so before any replacement starts.
	t.Log("--- fault 2: partition a worker (docker network disconnect) while it runs")
	victim = busiest(c.running(hold, ""))
	before := c.runs(hold)
	t0 = time.Now()
	c.docker("network", "disconnect", c.name+"-net", victim)
	lost = c.eventually("node "+victim+" NotReady", 2*leaseTTL+30*time.Second, func() bool { return !c.nodeReady(victim) })
	repl = c.eventually("6 replacement pods running", 30*time.Second, func() bool { return len(c.running(hold, victim)) == 6 })
	if st := c.docker("inspect", "-f", "{{.State.Running}}", victim); st != "true" {
		t.Errorf("the partitioned worker is not running (%s): the test did not partition it", st)
	}
	var killed time.Time
	var onVictim int
	for i, rs := range c.runs(hold) {
		for _, r := range rs {
			if r.node != victim || !wasRunning(before[i], r) {
				continue
			}
			onVictim++
			if r.finish.IsZero() {
				t.Errorf("N4: %s on the partitioned %s still runs", r.pod, victim)
			} else if r.finish.After(killed) {
				killed = r.finish
			}
		}
	}
	if onVictim == 0 {
		t.Errorf("no pod ran on the partitioned %s: nothing was tested", victim)
	}
	t.Logf("MEASURED partition: disconnect → its %d pods killed by their own worker %v (fence at TTL−TTL/4 = %v after the last renewal); → node NotReady %v; NotReady → replacements running %v",
		onVictim, killed.Sub(t0).Round(time.Millisecond), leaseTTL-worker.FenceMargin(leaseTTL), lost.Round(time.Millisecond), repl.Round(time.Millisecond))
	c.noOverlap(hold, "the partition")
	c.docker("network", "connect", "--alias", "worker-"+strconv.Itoa(c.nodeIndex(victim)), c.name+"-net", victim)
	back := c.eventually("the partitioned worker back", 60*time.Second, func() bool { return c.readyNodes() == 3 })
	t.Logf("MEASURED partition healed: reconnect → node Ready again %v", back.Round(time.Millisecond))

	// L2: a killed leader is replaced within the election TTL, and work
	// continues.
	t.Log("--- fault 3: kill the leading controller (docker kill)")
	l, err := c.cli.Leader(c.ctx())
	if err != nil || l.Identity == "" {
		t.Fatalf("leader: %v %v", l, err)
	}
	old := l.Identity
	t0 = time.Now()
	c.docker("kill", c.name+"-"+old)
	var next string
	took = c.eventually("a new leader", 60*time.Second, func() bool {
		l, err := c.cli.Leader(c.ctx())
		if err != nil || l.Identity == "" || l.Identity == old {
			return false
		}
		next = l.Identity
		return true
	})
	t.Logf("MEASURED leader loss: %s killed → %s leads after %v (election TTL %v)", old, next, took.Round(time.Millisecond), electionTTL)
	after := c.createJob(jobYAML("after-failover", 3, "echo index $JOB_COMPLETION_INDEX"))
	c.waitComplete(after, 90*time.Second)
	t.Logf("MEASURED a Job of 3 pods completed under the new leader %v after the kill", time.Since(t0).Round(time.Millisecond))
	c.composeRun("start", old)

	// Quorum: with one etcd member (the raft leader) paused, work
	// continues and no worker loses its lease.
	t.Log("--- fault 4: pause one etcd member (docker pause), quorum kept")
	member := c.etcdLeader()
	if member == "etcd-1" {
		c.etcdIn = "etcd-2"
	}
	readyBefore := c.readyNodes()
	t0 = time.Now()
	c.docker("pause", c.name+"-"+member)
	// A request that a replica's etcd client sends to the paused member
	// hangs until the client's keepalive (5 s + 3 s) drops that
	// connection; the SDK's retries may not outlast it. Measure that gap.
	var during string
	var failures int
	var lastErr error
	gap := c.eventually("a Job created with an etcd member paused", 60*time.Second, func() bool {
		name, err := c.tryCreateJob(jobYAML("during-pause", 3, "echo index $JOB_COMPLETION_INDEX"))
		if err != nil {
			failures++
			lastErr = err
			return false
		}
		during = name
		return true
	})
	t.Logf("MEASURED with %s paused: the API accepted a Job after %v (%d failed attempts; last error: %v)", member, gap.Round(time.Millisecond), failures, lastErr)
	c.waitComplete(during, 90*time.Second)
	t.Logf("MEASURED with %s (the raft leader) paused: a Job of 3 pods completed %v after the pause", member, time.Since(t0).Round(time.Millisecond))
	time.Sleep(leaseTTL) // long enough for a worker stuck on the paused member to lose its lease
	if n := c.readyNodes(); n != readyBefore {
		t.Errorf("Ready nodes with %s paused: %d, want %d", member, n, readyBefore)
	}
	if n := len(c.running(hold, "")); n != 6 {
		t.Errorf("running pods of %s with %s paused: %d, want 6", hold, member, n)
	}
	c.docker("unpause", c.name+"-"+member)
}

// wasRunning reports whether r is one of the containers in rs (by pod and
// start).
func wasRunning(rs []run, r run) bool {
	for _, x := range rs {
		if x.pod == r.pod && x.start.Equal(r.start) && x.finish.IsZero() {
			return true
		}
	}
	return false
}

// busiest is the node running most of pods.
func busiest(pods []*v1.Pod) string {
	n := map[string]int{}
	best := ""
	for _, p := range pods {
		node := p.GetSpec().GetNodeName()
		n[node]++
		if best == "" || n[node] > n[best] || (n[node] == n[best] && node < best) {
			best = node
		}
	}
	return best
}

func (c *cluster) waitComplete(job string, limit time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	j, err := c.cli.WaitForJobCondition(ctx, "default", job, "Complete", nil)
	if err != nil {
		c.t.Fatalf("job %s not Complete: %v (status %v)", job, err, j.GetStatus())
	}
	if !strings.Contains(j.GetStatus().GetCompletedIndexes(), "0-2") {
		c.t.Errorf("job %s completed indexes %q, want 0-2", job, j.GetStatus().GetCompletedIndexes())
	}
}
