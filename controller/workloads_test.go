package controller_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/controller"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// eventually polls cond every 20 ms until it holds or timeout passes.
func (c *cluster) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not after %v: %s", what, timeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) daemonPods(ds string) map[string]*v1.Pod {
	pods, _, err := c.st.Pods().List(c.ctx, "default")
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]*v1.Pod{}
	for _, p := range pods {
		for _, r := range p.Metadata.OwnerReferences {
			if r.Kind == "DaemonSet" && r.Name == ds {
				out[p.Metadata.Name] = p
			}
		}
	}
	return out
}

func nodesOf(pods map[string]*v1.Pod) string {
	var ns []string
	for _, p := range pods {
		if p.Metadata.DeletionTimestamp == nil {
			ns = append(ns, p.Spec.NodeName+"/"+p.Status.GetPhase())
		}
	}
	sort.Strings(ns)
	return strings.Join(ns, " ")
}

// TestDaemonSetFollowsNodes (SPEC D1, D3) through the controller on a real
// etcd: a pod bound on each node (with its assignment, so the scheduler
// has nothing to do), a joining node gets one, a lost node's pod is removed
// and the status follows.
func TestDaemonSetFollowsNodes(t *testing.T) {
	c := startCluster(t)
	for _, n := range []string{"n1", "n2"} {
		c.simNode(n, time.Hour, nil)
	}
	ds := &v1.DaemonSet{Metadata: &v1.ObjectMeta{Name: "agent"}, Spec: &v1.DaemonSetSpec{
		Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
		Template: &v1.PodTemplateSpec{Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
			Spec: &v1.PodSpec{Containers: []*v1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "1000"}}}}},
	}}
	if _, err := c.api.CreateDaemonSet(c.ctx, &v1.CreateDaemonSetRequest{DaemonSet: ds}); err != nil {
		t.Fatal(err)
	}
	status := func() *v1.DaemonSetStatus {
		got, err := c.api.GetDaemonSet(c.ctx, &v1.GetDaemonSetRequest{Namespace: "default", Name: "agent"})
		if err != nil {
			t.Fatal(err)
		}
		return got.DaemonSet.GetStatus()
	}
	want := func(layout string, desired, ready int32) {
		t.Helper()
		c.eventually("layout "+layout, 10*time.Second, func() (bool, string) {
			got, st := nodesOf(c.daemonPods("agent")), status()
			return got == layout && st.GetDesiredNumberScheduled() == desired && st.GetNumberReady() == ready, fmt.Sprintf("%s %v", got, st)
		})
	}
	want("n1/Running n2/Running", 2, 2)
	for _, p := range c.daemonPods("agent") {
		a, err := c.cli.Get(c.ctx, "/drover/assignments/"+p.Spec.NodeName+"/default/"+p.Metadata.Name)
		if err != nil || len(a.Kvs) != 1 {
			t.Fatalf("pod %s has no assignment: %v", p.Metadata.Name, err)
		}
	}
	c.simNode("n3", time.Hour, nil)
	want("n1/Running n2/Running n3/Running", 3, 3)

	n2, err := c.st.Nodes().Get(c.ctx, "", "n2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.cli.Revoke(c.ctx, clientv3.LeaseID(n2.Status.LeaseId)); err != nil {
		t.Fatal(err)
	}
	want("n1/Running n3/Running", 2, 2)
	if got := len(c.daemonPods("agent")); got != 2 {
		t.Fatalf("%d daemon pods, want 2 (the lost node's removed)", got)
	}
	// Deleting the DaemonSet removes its pods (J12 for DaemonSets).
	if _, err := c.api.DeleteDaemonSet(c.ctx, &v1.DeleteDaemonSetRequest{Namespace: "default", Name: "agent"}); err != nil {
		t.Fatal(err)
	}
	c.eventually("pods stopped", 10*time.Second, func() (bool, string) {
		pods := c.daemonPods("agent")
		for _, p := range pods {
			if p.Metadata.DeletionTimestamp == nil {
				return false, nodesOf(pods)
			}
		}
		return true, ""
	})
}

// TestCronJobRunsEverySecondScaled (SPEC C2, C5) with the test hook: a
// schedule minute of one second makes "* * * * *" run every second; each
// run is one Job named by its schedule time, owned by the CronJob; history
// stays within the limit; deleting the CronJob deletes its Jobs.
func TestCronJobRunsEverySecondScaled(t *testing.T) {
	c := startCluster(t, func(cfg *controller.Config) { cfg.CronMinute = time.Second })
	c.simNode("n1", 50*time.Millisecond, nil)
	tmpl := testJob("x", 1, 1)
	cj := &v1.CronJob{Metadata: &v1.ObjectMeta{Name: "tick"}, Spec: &v1.CronJobSpec{
		Schedule: "* * * * *", SuccessfulJobsHistoryLimit: proto.Int32(2),
		JobTemplate: &v1.JobTemplateSpec{Spec: tmpl.Spec},
	}}
	if _, err := c.api.CreateCronJob(c.ctx, &v1.CreateCronJobRequest{CronJob: cj}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	c.eventually("four runs", 15*time.Second, func() (bool, string) {
		jobs, _, err := c.st.Jobs().List(c.ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if r := j.Metadata.OwnerReferences; len(r) == 1 && r[0].Kind == "CronJob" && r[0].Name == "tick" {
				seen[j.Metadata.Name] = true
			}
		}
		return len(seen) >= 4, fmt.Sprint(seen)
	})
	var secs []int64
	for n := range seen {
		var s int64
		if _, err := fmt.Sscanf(n, "tick-%d", &s); err != nil {
			t.Fatalf("job name %q", n)
		}
		secs = append(secs, s)
	}
	sort.Slice(secs, func(a, b int) bool { return secs[a] < secs[b] })
	for i := 1; i < len(secs); i++ {
		if secs[i] == secs[i-1] {
			t.Fatalf("two jobs for one time: %v", secs)
		}
	}
	c.eventually("history trimmed", 10*time.Second, func() (bool, string) {
		jobs, _, _ := c.st.Jobs().List(c.ctx, "default")
		finished := 0
		for _, j := range jobs {
			for _, co := range j.GetStatus().GetConditions() {
				if co.Type == "Complete" && co.Status == "True" {
					finished++
				}
			}
		}
		return finished <= 2, fmt.Sprint(finished, " finished")
	})
	if _, err := c.api.DeleteCronJob(c.ctx, &v1.DeleteCronJobRequest{Namespace: "default", Name: "tick"}); err != nil {
		t.Fatal(err)
	}
	c.eventually("jobs deleted with the cronjob", 10*time.Second, func() (bool, string) {
		jobs, _, _ := c.st.Jobs().List(c.ctx, "default")
		return len(jobs) == 0, fmt.Sprint(len(jobs), " jobs")
	})
}

// TestJobDependencies (SPEC J18) through the controller: b waits for a
// (Waiting=True naming it, no pods), runs once a completes; d depends on a
// failing c and fails with DependencyFailed without a pod.
func TestJobDependencies(t *testing.T) {
	c := startCluster(t)
	c.simNode("n1", 300*time.Millisecond, func(p *v1.Pod) bool { return p.Metadata.Labels["job-name"] == "c" })
	create := func(j *v1.Job) {
		t.Helper()
		if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: j}); err != nil {
			t.Fatal(err)
		}
	}
	b := testJob("b", 1, 1)
	b.Spec.DependsOn = []string{"a"}
	create(b)
	c.eventually("b waiting", 5*time.Second, func() (bool, string) {
		got, _ := c.api.GetJob(c.ctx, &v1.GetJobRequest{Namespace: "default", Name: "b"})
		for _, co := range got.GetJob().GetStatus().GetConditions() {
			if co.Type == "Waiting" && co.Status == "True" && co.Message == "waiting for a" {
				return true, ""
			}
		}
		return false, fmt.Sprint(got.GetJob().GetStatus())
	})
	create(testJob("a", 1, 1))
	aDone := c.waitJob("a", "Complete", 10*time.Second)
	bDone := c.waitJob("b", "Complete", 10*time.Second)
	if !bDone.Status.StartTime.AsTime().After(aDone.Status.CompletionTime.AsTime().Add(-time.Millisecond)) {
		t.Fatalf("b started %v before a completed %v", bDone.Status.StartTime.AsTime(), aDone.Status.CompletionTime.AsTime())
	}

	d := testJob("d", 1, 1)
	d.Spec.DependsOn = []string{"c"}
	create(d)
	cj := testJob("c", 1, 1)
	cj.Spec.BackoffLimit = proto.Int32(0)
	create(cj)
	c.waitJob("c", "Failed", 10*time.Second)
	failed := c.waitJob("d", "Failed", 10*time.Second)
	for _, co := range failed.Status.Conditions {
		if co.Type == "Failed" && co.Reason != "DependencyFailed" {
			t.Fatalf("d failed with %q", co.Reason)
		}
	}
	pods, _, _ := c.st.Pods().List(c.ctx, "default")
	for _, p := range pods {
		if p.Metadata.Labels["job-name"] == "d" {
			t.Fatalf("d started pod %s", p.Metadata.Name)
		}
	}
}
