package worker

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-dev/drover/internal/embedetcd"
	"github.com/drover-dev/drover/internal/etcdtest"
	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/worker/runtime"
	"github.com/drover-dev/drover/worker/runtime/process"
)

// TestMain lets the test binary act as the process runtime's shim.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == process.ShimArg {
		os.Exit(process.ShimMain(os.Args[2]))
	}
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	goleak.VerifyTestMain(m)
}

// testWorker is a running Worker and what a test needs around it.
type testWorker struct {
	*Worker
	st    *store.Store
	local *process.Runtime // the same containers, read directly
	stop  func()
}

// startWorker runs a worker named name over dataDir until stop (or the test
// ends). Its containers are killed when the test ends.
func startWorker(t *testing.T, cli *clientv3.Client, name, dataDir string, edit func(*Config)) *testWorker {
	t.Helper()
	cfg := Config{
		NodeName: name,
		Etcd:     cli,
		DataDir:  dataDir,
		Logger:   zaptest.NewLogger(t),
		Labels:   map[string]string{"zone": "a"},
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	local, err := process.New(process.Config{Root: filepath.Join(dataDir, "containers")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	tw := &testWorker{Worker: w, st: store.New(cli), local: local}
	tw.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		tw.stop()
		killAll(t, local)
	})
	return tw
}

func killAll(t *testing.T, rt runtime.Backend) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	infos, _ := rt.List(ctx, nil)
	for _, info := range infos {
		rt.Stop(ctx, info.GetId(), 0)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newPod is a pending pod bound to node that runs script with sh.
func newPod(node, name, script string) *v1.Pod {
	return &v1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &v1.ObjectMeta{Name: name, Namespace: "default", Uid: uuid.NewString(),
			Labels: map[string]string{"job-name": "j"}},
		Spec: &v1.PodSpec{
			NodeName:      node,
			RestartPolicy: "Never",
			Containers:    []*v1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", script}}},
		},
		Status: &v1.PodStatus{Phase: PhasePending},
	}
}

// assign stores pod and its assignment, as the controller does.
func assign(t *testing.T, st *store.Store, pod *v1.Pod) {
	t.Helper()
	if _, err := st.Txn().Create(pod).PutAssignment(pod).Commit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// updateAssignment rewrites the assignment of pod after fn changed it.
func updateAssignment(t *testing.T, st *store.Store, pod *v1.Pod, fn func(*v1.Pod)) {
	t.Helper()
	a, err := st.Assignments(pod.Spec.NodeName).Get(testCtx(t), pod.Metadata.Namespace, pod.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	fn(a)
	if _, err := st.Txn().PutAssignment(a).Commit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func unassign(t *testing.T, st *store.Store, pod *v1.Pod) {
	t.Helper()
	if _, err := st.Txn().DeleteAssignment(pod.Spec.NodeName, pod.Metadata.Namespace, pod.Metadata.Name).Commit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds; the worker's effects are observed
// in etcd and the runtime, which offer no event to wait on in a test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPhase waits for the stored pod to reach phase and returns it.
func waitPhase(t *testing.T, st *store.Store, pod *v1.Pod, phase string) *v1.Pod {
	t.Helper()
	var got *v1.Pod
	eventually(t, pod.Metadata.Name+" "+phase, func() bool {
		p, err := st.Pods().Get(testCtx(t), pod.Metadata.Namespace, pod.Metadata.Name)
		got = p
		return err == nil && p.GetStatus().GetPhase() == phase
	})
	return got
}

// phases watches the pod's key from rev and returns the phases it went
// through until it reached a terminal one.
func phases(t *testing.T, cli *clientv3.Client, pod *v1.Pod, rev int64) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Second)
	defer cancel()
	events, _ := store.New(cli).Pods().Watch(ctx, pod.Metadata.Namespace, rev)
	var out []string
	for ev := range events {
		if ev.Object.GetMetadata().GetName() != pod.Metadata.Name {
			continue
		}
		ph := ev.Object.GetStatus().GetPhase()
		if len(out) == 0 || out[len(out)-1] != ph {
			out = append(out, ph)
		}
		if IsTerminal(ph) {
			return out
		}
	}
	t.Fatalf("pod %s did not finish; phases %v", pod.Metadata.Name, out)
	return nil
}

func currentRev(t *testing.T, cli *clientv3.Client) int64 {
	resp, err := cli.Get(testCtx(t), "/")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func TestRegisters(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx := testCtx(t)
	// A node that exists already (cordoned by an operator) keeps its spec,
	// uid and creation time.
	created := timestamppb.New(time.Unix(1700000000, 0))
	if _, err := st.Nodes().Create(ctx, &v1.Node{ApiVersion: "v1", Kind: "Node",
		Metadata: &v1.ObjectMeta{Name: "n1", Uid: "uid-1", CreationTimestamp: created},
		Spec:     &v1.NodeSpec{Unschedulable: true}}); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, cli, "n1", t.TempDir(), func(c *Config) { c.Capacity = map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"} })
	var node *v1.Node
	eventually(t, "node registered", func() bool {
		n, err := st.Nodes().Get(ctx, "", "n1")
		node = n
		return err == nil && n.GetStatus().GetLeaseId() != 0
	})
	if !node.Spec.Unschedulable || node.Metadata.Uid != "uid-1" || !proto.Equal(node.Metadata.CreationTimestamp, created) {
		t.Errorf("registration lost what others own: %v", node)
	}
	if node.ApiVersion != "v1" || node.Kind != "Node" || node.Metadata.Labels["zone"] != "a" || node.Metadata.Labels[LabelHostname] != "n1" {
		t.Errorf("metadata: %v", node)
	}
	s := node.Status
	if s.Capacity["cpu"] != "4" || s.Allocatable["memory"] != "8Gi" || s.Runtime != "process" || s.LeaseTtlSeconds != 40 {
		t.Errorf("status: %v", s)
	}
	if len(s.Addresses) != 1 || s.Addresses[0].Type != AddressAgentEndpoint || s.Addresses[0].Address != w.AgentAddr() {
		t.Errorf("addresses: %v, agent at %s", s.Addresses, w.AgentAddr())
	}
	if len(s.Conditions) != 1 || s.Conditions[0].Type != "Ready" || s.Conditions[0].Status != "True" {
		t.Errorf("conditions: %v", s.Conditions)
	}

	resp, err := cli.Get(ctx, store.HeartbeatKey("n1"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("heartbeat key: %v %v", resp, err)
	}
	hb, err := store.DecodeHeartbeat(resp.Kvs[0].Value)
	if err != nil || hb.Node != "n1" || hb.LeaseID != s.LeaseId || hb.RenewIntervalSeconds != 10 {
		t.Fatalf("heartbeat value %s: %v", resp.Kvs[0].Value, err)
	}
	if resp.Kvs[0].Lease != s.LeaseId {
		t.Fatalf("heartbeat key on lease %x, node says %x", resp.Kvs[0].Lease, s.LeaseId)
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(s.LeaseId))
	if err != nil || ttl.GrantedTTL != 40 || ttl.TTL <= 30 {
		t.Fatalf("lease: %v %v", ttl, err)
	}
	// The node object itself is not on the lease.
	nresp, _ := cli.Get(ctx, store.NodesPrefix+"n1")
	if nresp.Kvs[0].Lease != 0 {
		t.Fatal("node object attached to the lease")
	}
	if hs := w.Heartbeat(); hs.LeaseID != s.LeaseId || hs.Registrations != 1 || hs.Fenced {
		t.Fatalf("heartbeat status: %+v", hs)
	}
}

func TestPodSucceedsAndFails(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	w := startWorker(t, cli, "n1", t.TempDir(), nil)
	ctx := testCtx(t)
	// The pod lives a second, so that its Running phase is written before it
	// exits even on a loaded machine (a pod that exits before its Run returns
	// goes from Pending to Succeeded in one write, which is also correct).
	ok := newPod("n1", "ok", `sleep 1; echo "hi from $HOSTNAME $DROVER_POD_NAMESPACE/$DROVER_POD_NAME on $DROVER_NODE_NAME"`)
	bad := newPod("n1", "bad", "exit 3")
	rev := currentRev(t, cli)
	assign(t, w.st, ok)
	assign(t, w.st, bad)

	if got := phases(t, cli, ok, rev); strings.Join(got, ",") != "Pending,Running,Succeeded" {
		t.Errorf("phases of ok: %v", got)
	}
	p := waitPhase(t, w.st, ok, PhaseSucceeded)
	cs := p.Status.ContainerStatuses
	if len(cs) != 1 || cs[0].State.GetTerminated() == nil {
		t.Fatalf("container statuses: %v", cs)
	}
	term := cs[0].State.Terminated
	if term.ExitCode != 0 || term.Reason != "Completed" || term.StartedAt == nil || term.FinishedAt == nil ||
		term.ContainerId != "process://"+ContainerID(ok.Metadata.Uid, "main", 0) {
		t.Errorf("terminated: %v", term)
	}
	if p.Status.StartTime == nil || p.Status.HostIp != "127.0.0.1" {
		t.Errorf("status: %v", p.Status)
	}
	if c := findCondition(p.Status, ConditionReady); c == nil || c.Status != "False" || c.Reason != "PodCompleted" {
		t.Errorf("ready condition: %v", c)
	}

	p = waitPhase(t, w.st, bad, PhaseFailed)
	if term := p.Status.ContainerStatuses[0].State.GetTerminated(); term.GetExitCode() != 3 || term.GetReason() != "Error" {
		t.Errorf("bad: %v", term)
	}

	// The log is served by the NodeAgentService.
	if got := readLogs(t, w, &v1.StreamPodLogsRequest{Namespace: "default", Name: "ok"}); got != "hi from ok default/ok on n1\n" {
		t.Errorf("log: %q", got)
	}
	_ = ctx
}

func TestRunningStatus(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	w := startWorker(t, cli, "n1", t.TempDir(), nil)
	pod := newPod("n1", "sleeper", "sleep 30")
	assign(t, w.st, pod)
	p := waitPhase(t, w.st, pod, PhaseRunning)
	cs := p.Status.ContainerStatuses[0]
	if cs.State.GetRunning().GetStartedAt() == nil || !cs.GetStarted() || !cs.Ready {
		t.Errorf("running container: %v", cs)
	}
	if c := findCondition(p.Status, ConditionReady); c.GetStatus() != "True" {
		t.Errorf("ready: %v", c)
	}
}

// TestDeletionAndUnassign: a deletionTimestamp stops the pod gracefully and
// it is reported Failed (SIGTERM); deleting the assignment removes the
// container and its log.
func TestDeletionAndUnassign(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	w := startWorker(t, cli, "n1", t.TempDir(), nil)
	ctx := testCtx(t)
	pod := newPod("n1", "victim", "echo started; exec sleep 30")
	pod.Spec.TerminationGracePeriodSeconds = proto.Int64(20)
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseRunning)

	start := time.Now()
	updateAssignment(t, w.st, pod, func(p *v1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.Now() })
	p := waitPhase(t, w.st, pod, PhaseFailed)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("graceful stop took %v", d)
	}
	term := p.Status.ContainerStatuses[0].State.GetTerminated()
	if term.GetSignal() != 15 || term.GetExitCode() != 143 {
		t.Errorf("terminated: %v", term)
	}
	if got := readLogs(t, w, &v1.StreamPodLogsRequest{PodUid: pod.Metadata.Uid}); got != "started\n" {
		t.Errorf("logs after the pod ended: %q", got)
	}

	unassign(t, w.st, pod)
	eventually(t, "container removed", func() bool {
		infos, err := w.local.List(ctx, map[string]string{LabelPodUID: pod.Metadata.Uid})
		return err == nil && len(infos) == 0
	})
	if _, err := logStream(t, w, &v1.StreamPodLogsRequest{PodUid: pod.Metadata.Uid}); err == nil {
		t.Error("logs still served after the assignment was deleted")
	}
}

// TestRestartKeepsAssignedPods (SPEC N3): a new worker over the same data dir
// keeps a running pod that is still assigned (same process) and stops one
// that is no longer assigned.
func TestRestartKeepsAssignedPods(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	dir := t.TempDir()
	first := startWorker(t, cli, "n1", dir, nil)
	ctx := testCtx(t)
	keep := newPod("n1", "keep", "exec sleep 30")
	drop := newPod("n1", "drop", "exec sleep 30")
	assign(t, first.st, keep)
	assign(t, first.st, drop)
	waitPhase(t, first.st, keep, PhaseRunning)
	waitPhase(t, first.st, drop, PhaseRunning)
	before, err := first.local.Status(ctx, ContainerID(keep.Metadata.Uid, "main", 0))
	if err != nil {
		t.Fatal(err)
	}
	first.stop()

	// While no worker runs, the pods keep running, and "drop" is unassigned.
	unassign(t, first.st, drop)
	if info, _ := first.local.Status(ctx, ContainerID(drop.Metadata.Uid, "main", 0)); info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING {
		t.Fatalf("pod stopped with its worker: %v", info)
	}

	second := startWorker(t, cli, "n1", dir, nil)
	eventually(t, "unassigned pod removed", func() bool {
		infos, err := second.local.List(ctx, map[string]string{LabelPodUID: drop.Metadata.Uid})
		return err == nil && len(infos) == 0
	})
	after, err := second.local.Status(ctx, ContainerID(keep.Metadata.Uid, "main", 0))
	if err != nil || after.GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING || after.GetPid() != before.GetPid() {
		t.Fatalf("kept pod: before %v after %v %v", before, after, err)
	}
	if p, _ := second.st.Pods().Get(ctx, "default", "keep"); p.GetStatus().GetPhase() != PhaseRunning {
		t.Fatalf("kept pod status: %v", p.GetStatus())
	}
	// The new worker still follows the kept pod to its end.
	unassign(t, second.st, keep)
	eventually(t, "kept pod removed", func() bool {
		infos, err := second.local.List(ctx, map[string]string{LabelPodUID: keep.Metadata.Uid})
		return err == nil && len(infos) == 0
	})
}

// TestTerminalStatusNeverOverwritten: a pod the controller has failed (node
// loss) keeps that status whatever happens to its container here.
func TestTerminalStatusNeverOverwritten(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	w := startWorker(t, cli, "n1", t.TempDir(), nil)
	ctx := testCtx(t)
	pod := newPod("n1", "lost", "exec sleep 30")
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseRunning)
	if _, err := w.st.Pods().Mutate(ctx, "default", "lost", func(p *v1.Pod) error {
		p.Status.Phase, p.Status.Reason = PhaseFailed, "NodeLost"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	updateAssignment(t, w.st, pod, func(p *v1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.Now() })
	eventually(t, "pod worker finished", func() bool {
		w.pods.mu.Lock()
		defer w.pods.mu.Unlock()
		e := w.pods.pods[pod.Metadata.Uid]
		return e != nil && e.worker == nil
	})
	info, err := w.local.Status(ctx, ContainerID(pod.Metadata.Uid, "main", 0))
	if err != nil || info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		t.Fatalf("container: %v %v", info, err)
	}
	p, _ := w.st.Pods().Get(ctx, "default", "lost")
	if p.Status.Phase != PhaseFailed || p.Status.Reason != "NodeLost" || len(p.Status.ContainerStatuses) != 1 ||
		p.Status.ContainerStatuses[0].State.GetRunning() == nil {
		t.Fatalf("terminal status overwritten: %v", p.Status)
	}
}

// TestFenceKillsPodsBeforeTheLeaseExpires (SPEC N4): when etcd becomes
// unreachable the worker kills its pods before its lease can expire.
func TestFenceKillsPodsBeforeTheLeaseExpires(t *testing.T) {
	// Started here, not by etcdtest.Start, so that the test can close it once.
	srv, err := embedetcd.Start(embedetcd.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cli := etcdtest.Client(t, srv.Endpoint())
	const ttl = 2 * time.Second
	w := startWorker(t, cli, "n1", t.TempDir(), func(c *Config) {
		c.LeaseTTL = ttl
		c.HeartbeatInterval = 200 * time.Millisecond
	})
	ctx := testCtx(t)
	pod := newPod("n1", "fenced", "exec sleep 30")
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseRunning)
	id := ContainerID(pod.Metadata.Uid, "main", 0)

	// etcd goes away: once its shutdown has closed the worker's renewal
	// stream no renewal can succeed. (A graceful shutdown lets open
	// streams run for a while, and the lease is really renewed meanwhile.)
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	t.Cleanup(func() { <-closed })
	info, err := w.local.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Unix(0, info.GetFinishedAtUnixNano())
	if info.GetSignal() != 9 {
		t.Fatalf("container: %v", info)
	}
	// LastRenewal is the last successful renewal's send time, on the
	// worker's (real) clock: the lease lives at least ttl after it.
	lastOK := w.Heartbeat().LastRenewal
	if left := lastOK.Add(ttl).Sub(killed); left < 0 {
		t.Fatalf("pod killed %v after the lease could have expired", -left)
	}
	eventually(t, "fenced", func() bool { return w.Heartbeat().Fenced })
	if hs := w.Heartbeat(); hs.Fences != 1 || hs.ConsecutiveFailures == 0 {
		t.Fatalf("heartbeat: %+v", hs)
	}
}

// TestLeaseLostReregisters: a lease that disappears (revoked here, expired
// in a partition) fences the pods at once; the worker registers again with
// a new lease and reconciles: a pod still assigned but already failed is not
// restarted.
func TestLeaseLostReregisters(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	w := startWorker(t, cli, "n1", t.TempDir(), func(c *Config) {
		c.LeaseTTL = 4 * time.Second
		c.HeartbeatInterval = 100 * time.Millisecond
	})
	ctx := testCtx(t)
	pod := newPod("n1", "p", "exec sleep 30")
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseRunning)
	old := w.Heartbeat().LeaseID
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(old)); err != nil {
		t.Fatal(err)
	}
	p := waitPhase(t, w.st, pod, PhaseFailed)
	if p.Status.Reason != ReasonNodeFenced || findCondition(p.Status, ConditionDisruption) == nil {
		t.Errorf("fenced pod status: %v", p.Status)
	}
	eventually(t, "registered again", func() bool {
		hs := w.Heartbeat()
		return hs.Registrations == 2 && hs.LeaseID != old && !hs.Fenced
	})
	resp, err := cli.Get(ctx, store.HeartbeatKey("n1"))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == old {
		t.Fatalf("heartbeat key after re-registration: %v %v", resp, err)
	}
	// A pod assigned after the re-registration runs.
	next := newPod("n1", "next", "echo ok")
	assign(t, w.st, next)
	waitPhase(t, w.st, next, PhaseSucceeded)
	infos, _ := w.local.List(ctx, map[string]string{LabelPodUID: pod.Metadata.Uid})
	if len(infos) != 1 || infos[0].GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		t.Fatalf("fenced pod restarted: %v", infos)
	}
}

func TestLogsFollow(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	w := startWorker(t, cli, "n1", t.TempDir(), nil)
	pod := newPod("n1", "chatty", "for i in 1 2 3; do echo line$i; sleep 0.2; done")
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseRunning)
	got := readLogs(t, w, &v1.StreamPodLogsRequest{Namespace: "default", Name: "chatty", Follow: true})
	if got != "line1\nline2\nline3\n" {
		t.Fatalf("follow: %q", got)
	}
	waitPhase(t, w.st, pod, PhaseSucceeded)
	if got := readLogs(t, w, &v1.StreamPodLogsRequest{PodUid: pod.Metadata.Uid, Container: "main", TailLines: 1}); got != "line3\n" {
		t.Fatalf("tail: %q", got)
	}
	if _, err := logStream(t, w, &v1.StreamPodLogsRequest{PodUid: pod.Metadata.Uid, Container: "nope"}); err == nil {
		t.Fatal("unknown container: no error")
	}
}

func logStream(t *testing.T, w *testWorker, req *v1.StreamPodLogsRequest) (string, error) {
	t.Helper()
	conn, err := grpc.NewClient(w.AgentAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := v1.NewNodeAgentServiceClient(conn).StreamPodLogs(testCtx(t), req)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		b.Write(msg.GetData())
	}
}

func readLogs(t *testing.T, w *testWorker, req *v1.StreamPodLogsRequest) string {
	t.Helper()
	s, err := logStream(t, w, req)
	if err != nil {
		t.Fatalf("logs %v: %v", req, err)
	}
	return s
}

var _ clock.WithTicker = clock.RealClock{}

// TestOnFailureRestartsWithBackoff: with restartPolicy OnFailure a failed
// container is restarted in place after 10 s, then 20 s (a fake clock), the
// pod stays Running meanwhile, and restartCount and lastState say so.
func TestOnFailureRestartsWithBackoff(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	fc := clocktesting.NewFakeClock(time.Now())
	w := startWorker(t, cli, "n1", t.TempDir(), func(c *Config) { c.Clock = fc })
	counter := filepath.Join(t.TempDir(), "count")
	pod := newPod("n1", "flaky", `n=$(cat `+counter+` 2>/dev/null || echo 0); n=$((n+1)); echo $n > `+counter+`; echo attempt $n; [ $n -ge 3 ]`)
	pod.Spec.RestartPolicy = "OnFailure"
	assign(t, w.st, pod)

	backingOff := func(restarts int32) func(*v1.Pod) bool {
		return func(p *v1.Pod) bool {
			cs := p.GetStatus().GetContainerStatuses()
			return p.GetStatus().GetPhase() == PhaseRunning && len(cs) == 1 &&
				cs[0].GetState().GetWaiting().GetReason() == "CrashLoopBackOff" && cs[0].GetRestartCount() == restarts &&
				cs[0].GetLastState().GetTerminated().GetExitCode() == 1
		}
	}
	waitPod(t, w.st, pod, "first back-off", backingOff(0))
	fc.Step(10 * time.Second)
	waitPod(t, w.st, pod, "second back-off", backingOff(1))
	fc.Step(20*time.Second - time.Millisecond)
	if p, _ := w.st.Pods().Get(testCtx(t), "default", "flaky"); !backingOff(1)(p) {
		t.Fatalf("restarted before its back-off: %v", p.GetStatus())
	}
	fc.Step(time.Millisecond)
	p := waitPhase(t, w.st, pod, PhaseSucceeded)
	cs := p.Status.ContainerStatuses[0]
	if cs.RestartCount != 2 || cs.State.GetTerminated().GetExitCode() != 0 || cs.LastState.GetTerminated().GetExitCode() != 1 ||
		cs.State.GetTerminated().GetContainerId() != "process://"+ContainerID(pod.Metadata.Uid, "main", 2) {
		t.Fatalf("container status: %v", cs)
	}
	if got := readLogs(t, w, &v1.StreamPodLogsRequest{PodUid: pod.Metadata.Uid}); got != "attempt 3\n" {
		t.Fatalf("logs of the last attempt: %q", got)
	}
}

// TestActiveDeadline (SPEC P1): the pod is killed activeDeadlineSeconds after
// it started and reported Failed with reason DeadlineExceeded.
func TestActiveDeadline(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	fc := clocktesting.NewFakeClock(time.Now())
	w := startWorker(t, cli, "n1", t.TempDir(), func(c *Config) { c.Clock = fc })
	pod := newPod("n1", "slow", "exec sleep 30")
	pod.Spec.ActiveDeadlineSeconds = proto.Int64(5)
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseRunning)
	fc.Step(5 * time.Second)
	p := waitPhase(t, w.st, pod, PhaseFailed)
	if p.Status.Reason != ReasonDeadlineExceeded || p.Status.ContainerStatuses[0].State.GetTerminated().GetSignal() != 15 {
		t.Fatalf("status: %v", p.Status)
	}
}

func waitPod(t *testing.T, st *store.Store, pod *v1.Pod, what string, cond func(*v1.Pod) bool) *v1.Pod {
	t.Helper()
	var got *v1.Pod
	eventually(t, pod.Metadata.Name+": "+what, func() bool {
		p, err := st.Pods().Get(testCtx(t), pod.Metadata.Namespace, pod.Metadata.Name)
		got = p
		return err == nil && cond(p)
	})
	return got
}

// TestFenceFollowedAtOnceByRegistration (SPEC N4): a session that ends and
// is at once active again (a lost lease and a quick new registration, on a
// machine too loaded to wake the fencer in between) still kills every pod
// that ran under the session that ended, and fails it as fenced.
func TestFenceFollowedAtOnceByRegistration(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	w := startWorker(t, cli, "n1", t.TempDir(), nil)
	ctx := testCtx(t)
	pod := newPod("n1", "quick", "exec sleep 30")
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseRunning)

	w.sess.mu.Lock()
	lease := w.sess.lease
	w.sess.mu.Unlock()
	// Both before any other goroutine can look.
	w.sess.fence()
	w.sess.activate(lease)

	info, err := w.local.Wait(ctx, ContainerID(pod.Metadata.Uid, "main", 0))
	if err != nil {
		t.Fatal(err)
	}
	if info.GetSignal() != 9 {
		t.Fatalf("container: %v", info)
	}
	got := waitPhase(t, w.st, pod, PhaseFailed)
	if got.Status.Reason != ReasonNodeFenced {
		t.Errorf("status: %v", got.Status)
	}
}
