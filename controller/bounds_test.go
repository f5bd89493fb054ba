package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/controller/job"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// TestPendingPodsBoundedPerJob is SPEC B1 through the controller (issue 13
// #3): a Job with completions 2^31-1 and parallelism 10^9 whose nodeSelector
// no node matches creates MaxPendingPodsPerJob pods and no more, says why
// with a PodCreationThrottled condition, and creates more as they are
// placed once a matching node joins.
func TestPendingPodsBoundedPerJob(t *testing.T) {
	const bound = 30
	c := startCluster(t, func(cfg *controller.Config) { cfg.MaxPendingPodsPerJob = bound })
	c.simNode("other", time.Hour, nil)
	j := testJob("flood", 2147483647, 1000000000)
	j.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "later"}
	if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: j}); err != nil {
		t.Fatal(err)
	}
	got := c.waitJob("flood", job.CondPodCreationThrottled, time.Minute)
	if co := condition(got, job.CondPodCreationThrottled); co.GetReason() != job.ReasonTooManyPendingPods {
		t.Errorf("condition %v", co)
	}
	// Every pod the scheduler found no room for has been reconciled over
	// (PodScheduled=False is a pod change that requeues the Job), and still
	// the Job holds at the bound.
	c.eventually("the scheduler has seen every pod", time.Minute, func() (bool, string) {
		pods := c.jobPods("flood")
		for _, p := range pods {
			if !hasPodCondition(p, "PodScheduled", "False") {
				return false, p.GetMetadata().GetName() + " not yet seen by the scheduler"
			}
		}
		return len(pods) == bound, fmt.Sprintf("%d pods", len(pods))
	})
	if n := len(c.jobPods("flood")); n != bound {
		t.Fatalf("%d pods pending, want the bound %d", n, bound)
	}

	// A node that matches joins: its 110 pod slots fill, and the Job again
	// holds 30 unplaced pods beside them.
	c.simNode("later", time.Hour, nil)
	c.eventually("110 placed and 30 pending", time.Minute, func() (bool, string) {
		placed, pending := 0, 0
		for _, p := range c.jobPods("flood") {
			if p.GetSpec().GetNodeName() != "" {
				placed++
			} else {
				pending++
			}
		}
		return placed == 110 && pending == bound, fmt.Sprintf("%d placed, %d pending", placed, pending)
	})
	if n := len(c.jobPods("flood")); n != 110+bound {
		t.Fatalf("%d pods, want %d", n, 110+bound)
	}
}

func condition(j *v1.Job, typ string) *v1.JobCondition {
	for _, co := range j.GetStatus().GetConditions() {
		if co.GetType() == typ {
			return co
		}
	}
	return nil
}

func hasPodCondition(p *v1.Pod, typ, status string) bool {
	for _, co := range p.GetStatus().GetConditions() {
		if co.GetType() == typ && co.GetStatus() == status {
			return true
		}
	}
	return false
}

// jobPods lists the pods labelled with the Job's name.
func (c *cluster) jobPods(name string) []*v1.Pod {
	c.t.Helper()
	resp, err := c.api.ListPods(c.ctx, &v1.ListPodsRequest{Namespace: "default", Options: &v1.ListOptions{LabelSelector: "job-name=" + name}})
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.GetItems()
}

// TestLargeTemplateJobRuns: a Job whose template is just under admission's
// bound (a 200 KiB env value) runs to completion with parallelism 10: the
// planner and the scheduler cut their transactions by size, not only by
// count, so no transaction exceeds what etcd accepts (issue 13 #4, SPEC
// B1). Before, the first plan created 10 pods of 200 KiB in one
// transaction and the Job never started.
func TestLargeTemplateJobRuns(t *testing.T) {
	c := startCluster(t)
	c.simNode("n1", 10*time.Millisecond, nil)
	j := testJob("big", 12, 10)
	j.Spec.Template.Spec.Containers[0].Env = []*v1.EnvVar{{Name: "BLOB", Value: strings.Repeat("x", 200<<10)}}
	if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: j}); err != nil {
		t.Fatal(err)
	}
	got := c.waitJob("big", "Complete", 2*time.Minute)
	if got.GetStatus().GetSucceeded() != 12 {
		t.Fatalf("status %v", got.GetStatus())
	}
}

// TestMaxPendingPodsValidated: a negative bound is refused, naming the flag.
func TestMaxPendingPodsValidated(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	_, err := controller.New(controller.Config{Etcd: cli, Listen: "127.0.0.1:0", MaxPendingPodsPerJob: -1})
	if err == nil || !strings.Contains(err.Error(), "--max-pending-pods-per-job") {
		t.Fatalf("error %v", err)
	}
}
