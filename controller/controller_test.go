package controller_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// cluster is a controller on a real embedded etcd, with simulated nodes.
type cluster struct {
	t   *testing.T
	cli *clientv3.Client
	st  *store.Store
	api v1.DroverServiceClient
	ctx context.Context
}

func startCluster(t *testing.T, opts ...func(*controller.Config)) *cluster {
	t.Helper()
	cli, _ := etcdtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := controller.Config{Etcd: cli, Listen: "127.0.0.1:0", Identity: "test", ElectionTTL: 2 * time.Second, Logger: zaptest.NewLogger(t).WithOptions()}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	conn, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &cluster{t: t, cli: cli, st: store.New(cli), api: v1.NewDroverServiceClient(conn), ctx: ctx}
}

// simNode registers a node with a live lease and runs its pods: each
// assigned pod runs for d, then succeeds (or fails when fail says so).
func (c *cluster) simNode(name string, d time.Duration, fail func(*v1.Pod) bool) {
	c.t.Helper()
	lease, err := c.cli.Grant(c.ctx, 30)
	if err != nil {
		c.t.Fatal(err)
	}
	ka, err := c.cli.KeepAlive(c.ctx, lease.ID)
	if err != nil {
		c.t.Fatal(err)
	}
	go func() {
		for range ka {
		}
	}()
	n := &v1.Node{ApiVersion: "v1", Kind: "Node", Metadata: &v1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: &v1.NodeStatus{Capacity: map[string]string{"cpu": "4", "pods": "110"}, LeaseId: int64(lease.ID), LeaseTtlSeconds: 30}}
	if _, err := c.st.Nodes().Create(c.ctx, n); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.cli.Put(c.ctx, store.HeartbeatKey(name), "{}", clientv3.WithLease(lease.ID)); err != nil {
		c.t.Fatal(err)
	}
	go func() {
		started := map[string]bool{}
		var mu sync.Mutex
		for resp := range c.cli.Watch(c.ctx, store.AssignmentPrefix(name), clientv3.WithPrefix()) {
			for _, ev := range resp.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				p, err := c.st.Pods().Decode(ev.Kv)
				if err != nil {
					continue
				}
				mu.Lock()
				first := !started[p.Metadata.Uid]
				started[p.Metadata.Uid] = true
				mu.Unlock()
				if first {
					go c.runPod(p, d, fail != nil && fail(p))
				}
			}
		}
	}()
}

func (c *cluster) runPod(p *v1.Pod, d time.Duration, fail bool) {
	setPhase := func(phase string, code int32) {
		_, _ = c.st.Pods().Mutate(c.ctx, p.Metadata.Namespace, p.Metadata.Name, func(cur *v1.Pod) error {
			if cur.Metadata.Uid != p.Metadata.Uid || cur.Status.GetPhase() == "Succeeded" || cur.Status.GetPhase() == "Failed" {
				return fmt.Errorf("not mine")
			}
			cur.Status.Phase = phase
			now := timestamppb.Now()
			if phase == "Running" {
				cur.Status.StartTime = now
				cur.Status.Conditions = append(cur.Status.Conditions, &v1.PodCondition{Type: "Ready", Status: "True"})
			} else {
				cur.Status.ContainerStatuses = []*v1.ContainerStatus{{Name: "c", State: &v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: code, FinishedAt: now}}}}
			}
			return nil
		})
	}
	setPhase("Running", 0)
	select {
	case <-time.After(d):
	case <-c.ctx.Done():
		return
	}
	if fail {
		setPhase("Failed", 1)
	} else {
		setPhase("Succeeded", 0)
	}
}

func testJob(name string, completions, parallelism int32) *v1.Job {
	return &v1.Job{ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &v1.ObjectMeta{Name: name},
		Spec: &v1.JobSpec{Completions: proto.Int32(completions), Parallelism: proto.Int32(parallelism),
			Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{RestartPolicy: "Never",
				Containers: []*v1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}}}
}

// waitJob waits until the Job has a True condition of type cond.
func (c *cluster) waitJob(name, cond string, timeout time.Duration) *v1.Job {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.api.GetJob(c.ctx, &v1.GetJobRequest{Namespace: "default", Name: name})
		if err == nil {
			for _, co := range resp.Job.GetStatus().GetConditions() {
				if co.Type == cond && co.Status == "True" {
					return resp.Job
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s: no %s after %v: %v %v", name, cond, timeout, resp.GetJob().GetStatus(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestParallelJobNeverExceedsParallelism is J1/J2 end to end through the
// controller: 20 completions, parallelism 5, 3 nodes. A watch of every pod
// write, in revision order, checks that no moment has more than 5 pods that
// are not terminal.
func TestParallelJobNeverExceedsParallelism(t *testing.T) {
	c := startCluster(t)
	for i := range 3 {
		c.simNode(fmt.Sprintf("n%d", i), 30*time.Millisecond, nil)
	}
	wctx, stop := context.WithCancel(c.ctx)
	defer stop()
	rev := int64(0)
	if r, err := c.cli.Get(c.ctx, "/"); err == nil {
		rev = r.Header.Revision
	}
	peak := make(chan int, 1)
	go func() {
		live := map[string]bool{}
		max := 0
		for resp := range c.cli.Watch(wctx, store.PodsPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			for _, ev := range resp.Events {
				k := string(ev.Kv.Key)
				if ev.Type == clientv3.EventTypeDelete {
					delete(live, k)
					continue
				}
				p, err := c.st.Pods().Decode(ev.Kv)
				if err != nil {
					continue
				}
				ph := p.GetStatus().GetPhase()
				live[k] = ph != "Succeeded" && ph != "Failed"
				n := 0
				for _, l := range live {
					if l {
						n++
					}
				}
				if n > max {
					max = n
				}
			}
		}
		peak <- max
	}()
	if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: testJob("par", 20, 5)}); err != nil {
		t.Fatal(err)
	}
	j := c.waitJob("par", "Complete", 30*time.Second)
	stop()
	if j.Status.Succeeded != 20 || j.Status.Failed != 0 || j.Status.Active != 0 {
		t.Fatalf("status %v, want succeeded 20, failed 0, active 0", j.Status)
	}
	if m := <-peak; m > 5 || m < 2 {
		t.Fatalf("peak active pods %d, want between 2 and 5", m)
	}
	// Every pod has its outcome counted and its finalizer removed (J11).
	resp, err := c.api.ListPods(c.ctx, &v1.ListPodsRequest{Namespace: "default", Options: &v1.ListOptions{LabelSelector: "job-name=par"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 20 {
		t.Fatalf("%d pods, want 20", len(resp.Items))
	}
	nodes := map[string]int{}
	for _, p := range resp.Items {
		if len(p.Metadata.Finalizers) != 0 || p.Status.Phase != "Succeeded" {
			t.Fatalf("pod %s: finalizers %v phase %s", p.Metadata.Name, p.Metadata.Finalizers, p.Status.Phase)
		}
		nodes[p.Spec.NodeName]++
	}
	if len(nodes) != 3 {
		t.Fatalf("pods spread over %v, want all 3 nodes used", nodes)
	}
}

// TestFailuresCountedAndBackoffLimit: every pod fails; with backoffLimit 1 the
// Job fails after 2 failures with BackoffLimitExceeded (J6). The 10 s delay
// applies between them, so this uses a disruption-free path only up to the
// first retry: backoffLimit 0 fails at the first failure.
func TestFailuresCountedAndBackoffLimit(t *testing.T) {
	c := startCluster(t)
	c.simNode("n0", 10*time.Millisecond, func(*v1.Pod) bool { return true })
	j := testJob("fails", 3, 1)
	j.Spec.BackoffLimit = proto.Int32(0)
	if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: j}); err != nil {
		t.Fatal(err)
	}
	got := c.waitJob("fails", "Failed", 20*time.Second)
	if got.Status.Failed != 1 || got.Status.Succeeded != 0 {
		t.Fatalf("status %v", got.Status)
	}
	for _, co := range got.Status.Conditions {
		if co.Type == "Failed" && co.Reason != "BackoffLimitExceeded" {
			t.Fatalf("reason %s", co.Reason)
		}
	}
}

func TestAPIValidationAndErrors(t *testing.T) {
	c := startCluster(t)
	bad := testJob("Bad_Name", -1, 1)
	_, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: bad})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid job: %v", err)
	}
	// Nothing was stored (O4).
	if r, _ := c.cli.Get(c.ctx, store.JobsPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly()); r.Count != 0 {
		t.Fatalf("%d jobs stored after a rejected create", r.Count)
	}
	if _, err := c.api.GetJob(c.ctx, &v1.GetJobRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: testJob("dup", 1, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.api.CreateJob(c.ctx, &v1.CreateJobRequest{Job: testJob("dup", 1, 1)}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := c.api.GetJob(c.ctx, &v1.GetJobRequest{Name: "dup"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Job.Spec.Selector.MatchLabels["controller-uid"] != got.Job.Metadata.Uid {
		t.Fatalf("selector not generated from uid: %v", got.Job.Spec.Selector)
	}
	stale := proto.Clone(got.Job).(*v1.Job)
	stale.Metadata.ResourceVersion = "1"
	if _, err := c.api.UpdateJob(c.ctx, &v1.UpdateJobRequest{Job: stale}); status.Code(err) != codes.Aborted {
		t.Fatalf("stale update: %v", err)
	}
	leader, err := c.api.GetLeader(c.ctx, &v1.GetLeaderRequest{})
	if err != nil || leader.ServingIdentity != "test" {
		t.Fatalf("leader: %v %v", leader, err)
	}
}
