package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/internal/etcdtest"
	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// rangeCounter counts the etcd Range calls of a client whose key starts with
// a prefix.
type rangeCounter struct {
	prefix string
	mu     sync.Mutex
	n      int
}

func (c *rangeCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *rangeCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if r, ok := req.(*pb.RangeRequest); ok && strings.HasPrefix(string(r.GetKey()), c.prefix) {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// countingClient is a client of the same etcd as cli that counts its reads
// of pods.
func countingClient(t *testing.T, cli *clientv3.Client) (*clientv3.Client, *rangeCounter) {
	t.Helper()
	rc := &rangeCounter{prefix: store.PodsPrefix}
	c, err := clientv3.New(clientv3.Config{
		Endpoints: cli.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(rc.intercept)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rc
}

// TestFreshAssignmentIsNotRead: a pod the worker learns of from a new
// assignment is started and its status written (Pending to Succeeded)
// without reading the pod from etcd: the assignment is the pod as bound,
// and the status write swaps against its revision (SPEC P2). Two reads a
// pod were 2 of every 5 requests a pod cost etcd at scale
// (docs/benchmarks.md).
func TestFreshAssignmentIsNotRead(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	wcli, reads := countingClient(t, cli)
	w := startWorker(t, wcli, "n1", t.TempDir(), nil)
	eventually(t, "worker ready", func() bool { return w.Ready() == nil })
	st := store.New(cli) // the test's reads are not counted
	pod := newPod("n1", "fresh", "exit 0")
	assign(t, st, pod)
	got := waitPhase(t, st, pod, PhaseSucceeded)
	if n := reads.count(); n != 0 {
		t.Errorf("the worker read pods %d times for a fresh assignment, want 0", n)
	}
	if got.Status.StartTime == nil || len(got.Status.ContainerStatuses) != 1 ||
		got.Status.ContainerStatuses[0].State.GetTerminated().GetReason() != "Completed" {
		t.Errorf("status: %v", got.Status)
	}
}

// TestWriteStatusWithStaleKnownPod: when the pod changed after the version
// the worker knows, the swap fails and the pod is read: another writer's
// change survives, a terminal phase is never overwritten, and a pod
// replaced under the same name is left alone (SPEC P2).
func TestWriteStatusWithStaleKnownPod(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx := testCtx(t)
	now := time.Unix(1_700_000_000, 0)
	running := podView{startTime: now, hostIP: "127.0.0.1", runtime: "fake", ctrs: []ctrView{{
		name: "main", image: "busybox",
		info: &runtimev1.ContainerInfo{Id: "c1", State: runtimev1.ContainerState_CONTAINER_STATE_RUNNING, StartedAtUnixNano: now.UnixNano()},
	}}}

	put := func(name string) *v1.Pod {
		pod := newPod("n1", name, "true")
		if _, err := st.Txn().Create(pod).PutAssignment(pod).Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return pod
	}

	t.Run("changed by another writer", func(t *testing.T) {
		known := put("annotated")
		if _, err := st.Pods().Mutate(ctx, "default", "annotated", func(p *v1.Pod) error {
			p.Metadata.Annotations = map[string]string{"someone": "else"}
			p.Metadata.DeletionTimestamp = timestamppb.New(now)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		out, err := writeStatus(ctx, st, known, "default", "annotated", known.Metadata.Uid, running, now)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.Pods().Get(ctx, "default", "annotated")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status.Phase != PhaseRunning || stored.Metadata.Annotations["someone"] != "else" || stored.Metadata.DeletionTimestamp == nil {
			t.Errorf("stored after the write: %v", stored)
		}
		if out.Metadata.ResourceVersion != stored.Metadata.ResourceVersion {
			t.Errorf("returned revision %s, stored %s", out.Metadata.ResourceVersion, stored.Metadata.ResourceVersion)
		}
		// The returned pod is the next known one: a second write swaps
		// against it and lands.
		done := running
		done.ctrs = []ctrView{{name: "main", image: "busybox", info: &runtimev1.ContainerInfo{
			Id: "c1", State: runtimev1.ContainerState_CONTAINER_STATE_EXITED, StartedAtUnixNano: now.UnixNano(), FinishedAtUnixNano: now.UnixNano()}}}
		if _, err := writeStatus(ctx, st, out, "default", "annotated", known.Metadata.Uid, done, now); err != nil {
			t.Fatal(err)
		}
		if p, _ := st.Pods().Get(ctx, "default", "annotated"); p.GetStatus().GetPhase() != PhaseSucceeded || p.Metadata.Annotations["someone"] != "else" {
			t.Errorf("after the second write: %v", p)
		}
	})

	t.Run("failed by the controller", func(t *testing.T) {
		known := put("lost")
		if _, err := st.Pods().Mutate(ctx, "default", "lost", func(p *v1.Pod) error {
			p.Status.Phase, p.Status.Reason = PhaseFailed, "NodeLost"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := writeStatus(ctx, st, known, "default", "lost", known.Metadata.Uid, running, now); !errors.Is(err, errPodTerminal) {
			t.Fatalf("err = %v, want errPodTerminal", err)
		}
		if p, _ := st.Pods().Get(ctx, "default", "lost"); p.GetStatus().GetPhase() != PhaseFailed || p.GetStatus().GetReason() != "NodeLost" {
			t.Errorf("terminal status overwritten: %v", p.GetStatus())
		}
	})

	t.Run("replaced under the same name", func(t *testing.T) {
		known := put("replaced")
		if err := st.Pods().Delete(ctx, "default", "replaced", 0); err != nil {
			t.Fatal(err)
		}
		other := put("replaced")
		if _, err := writeStatus(ctx, st, known, "default", "replaced", known.Metadata.Uid, running, now); !errors.Is(err, errPodGone) {
			t.Fatalf("err = %v, want errPodGone", err)
		}
		if p, _ := st.Pods().Get(ctx, "default", "replaced"); p.GetMetadata().GetUid() != other.Metadata.Uid || p.GetStatus().GetPhase() != PhasePending {
			t.Errorf("the replacement was written to: %v", p)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		pod := put("unknown")
		if _, err := writeStatus(ctx, st, nil, "default", "unknown", pod.Metadata.Uid, running, now); err != nil {
			t.Fatal(err)
		}
		if p, _ := st.Pods().Get(ctx, "default", "unknown"); p.GetStatus().GetPhase() != PhaseRunning {
			t.Errorf("status: %v", p.GetStatus())
		}
		if _, err := writeStatus(ctx, st, nil, "default", "absent", "x", running, now); !errors.Is(err, errPodGone) {
			t.Errorf("absent pod: err = %v, want errPodGone", err)
		}
	})
}
