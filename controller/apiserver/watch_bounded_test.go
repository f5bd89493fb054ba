package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	jobctl "github.com/drover-dev/drover/controller/job"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/validation"
)

// smallJob is a Job as CreateJob stores it.
func smallJob(t testing.TB, name string) *v1.Job {
	j := &v1.Job{Metadata: &v1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "watch-test"}},
		Spec: &v1.JobSpec{Template: podTemplate("Never")}}
	validation.DefaultJob(j)
	j.Metadata.Uid = jobctl.NewUID()
	j.Metadata.CreationTimestamp = timestamppb.Now()
	if err := generateSelector(j); err != nil {
		t.Fatal(err)
	}
	return j
}

// putJobs creates or updates jobs directly in the store, a transaction of
// store.MaxTxnOps-1 at a time (much faster than the API).
func putJobs(t testing.TB, st *store.Store, jobs []*v1.Job, update bool) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(jobs); i += store.MaxTxnOps - 1 {
		tx := st.Txn()
		for _, j := range jobs[i:min(i+store.MaxTxnOps-1, len(jobs))] {
			if update {
				tx.Update(j)
			} else {
				tx.Create(j)
			}
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// streamEnds records how the server's stream handlers returned.
type streamEnds struct {
	mu   sync.Mutex
	errs []error
	ch   chan struct{} // receives once per handler return
}

func (e *streamEnds) intercept(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
	e.ch <- struct{}{}
	return err
}

// serveAPI serves s on 127.0.0.1 and returns a connection to it whose
// windows stay at gRPC's 64 KiB (no dynamic growth), so that what a
// client that does not read holds is bounded and known.
func serveAPI(t *testing.T, s *Server, ends *streamEnds) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.StreamInterceptor(ends.intercept))
	s.Register(g)
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-done })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// window is gRPC's default flow-control window, and its per-stream write
// quota on the server.
const window = 64 << 10

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// SPEC B1, issue 13 #6: watch streams whose client never reads hold a
// bounded amount of the server's memory, whatever the number of objects:
// the initial list is sent a page at a time, and changes wait in a buffer
// of --watch-buffer, whose overflow ends the stream with ResourceExhausted
// (reason WATCH_TOO_FAR_BEHIND), a re-list error. Before, each stream held
// the whole list, then every change since, so the heap grew with
// Jobs x watchers. Measured in-process: HeapInuse after a GC.
func TestWatchersThatDoNotReadStayBounded(t *testing.T) {
	const (
		jobs     = 2000
		watchers = 25
	)
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	all := make([]*v1.Job, jobs)
	for i := range all {
		all[i] = smallJob(t, fmt.Sprintf("job-%05d", i))
	}
	putJobs(t, st, all, false)
	s := New(st, "test", clock.RealClock{}, zaptest.NewLogger(t), WithWatchBuffer(MinWatchBuffer))
	ends := &streamEnds{ch: make(chan struct{}, 2*watchers)}
	api := v1.NewDroverServiceClient(serveAPI(t, s, ends))

	// What one buffered change costs: the decoded Job (measured as the
	// heap of a decoded list of them) plus its message.
	perObj := func() uint64 {
		before := heapInuse()
		l, _, err := st.Jobs().List(context.Background(), "default")
		if err != nil {
			t.Fatal(err)
		}
		after := heapInuse()
		runtime.KeepAlive(l)
		return (after - before) / uint64(len(l))
	}()
	// Per stream: one page of the initial list, decoded, or the buffer of
	// encoded messages; gRPC's write quota and the client's window.
	msgSize := uint64(proto.Size(all[0])) + 256
	perStream := max(watchListPage*perObj, uint64(MinWatchBuffer)*msgSize) + 4*window
	base := heapInuse()
	bound := func(extra uint64) uint64 { return base + watchers*perStream*3/2 + extra + 16<<20 }
	t.Logf("job: %d bytes decoded, %d bytes as a message; per stream bound %d KiB; base heap %d MiB",
		perObj, proto.Size(all[0]), perStream>>10, base>>20)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	for range watchers {
		ws, err := api.WatchJobs(ctx, &v1.WatchJobsRequest{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		// One message proves the server is sending the initial list
		// (before, it had read all of it by then); then no more reads.
		if m, err := ws.Recv(); err != nil || m.GetType() != "ADDED" {
			t.Fatalf("first message: %v, %v", m, err)
		}
	}
	if h := heapInuse(); h > bound(0) {
		t.Errorf("heap with %d watchers stuck in the initial list of %d Jobs: %d MiB, more than the bound %d MiB", watchers, jobs, h>>20, bound(0)>>20)
	} else {
		t.Logf("heap with %d watchers stuck in the initial list: %d MiB (bound %d MiB)", watchers, h>>20, bound(0)>>20)
	}

	// Watchers from the current revision (past any list) that never read;
	// every Job changes, twice: they fall behind and are ended.
	rev := all[len(all)-1].Metadata.ResourceVersion
	behind := make([]v1.DroverService_WatchJobsClient, watchers)
	for i := range behind {
		if behind[i], err = api.WatchJobs(ctx, &v1.WatchJobsRequest{Namespace: "default", Options: &v1.ListOptions{ResourceVersion: rev}}); err != nil {
			t.Fatal(err)
		}
	}
	var written uint64
	for round := range 2 {
		for _, j := range all {
			j.Metadata.Annotations = map[string]string{"round": fmt.Sprint(round)}
			written += uint64(proto.Size(j))
		}
		putJobs(t, st, all, true)
	}
	for deadline := time.Now().Add(2 * time.Minute); s.watchesBehind.Load() < watchers; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d watchers that do not read were found behind after %d changes", s.watchesBehind.Load(), watchers, 2*jobs)
		}
	}
	// etcd, in this process, keeps the writes in its raft log.
	limit := bound(watchers*perStream*3/2 + 2*written)
	if h := heapInuse(); h > limit {
		t.Errorf("heap after %d changes to %d stuck watchers: %d MiB, more than the bound %d MiB", 2*jobs, watchers, h>>20, limit>>20)
	} else {
		t.Logf("heap after %d changes to %d stuck watchers: %d MiB (bound %d MiB)", 2*jobs, watchers, h>>20, limit>>20)
	}

	// Each of them, reading at last, gets what was queued, then the
	// re-list error.
	for i, ws := range behind {
		n := 0
		var err error
		for {
			if _, err = ws.Recv(); err != nil {
				break
			}
			n++
		}
		if !isTooFarBehind(err) {
			t.Fatalf("stream %d ended after %d messages with %v, want ResourceExhausted %s", i, n, err, ReasonWatchTooFarBehind)
		}
		if n < MinWatchBuffer || n >= 2*jobs {
			t.Errorf("stream %d sent %d changes before ending, want at least the buffer (%d) and fewer than all %d", i, n, MinWatchBuffer, 2*jobs)
		}
	}
	for range watchers {
		<-ends.ch // every handler returned
	}
}

func isTooFarBehind(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return false
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetReason() == ReasonWatchTooFarBehind && ei.GetDomain() == ErrorDomain {
			return true
		}
	}
	return false
}

// SPEC B1: a watch from a resourceVersion whose client keeps up gets every
// change even when they come faster than the buffer (one transaction of
// store.MaxTxnOps-1 changes at a time), and the stream stays open.
func TestWatchKeepsUpWithinTheBuffer(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	s := New(st, "test", clock.RealClock{}, zaptest.NewLogger(t), WithWatchBuffer(1))
	if s.watchBuffer != MinWatchBuffer {
		t.Fatalf("watch buffer %d, want it raised to %d", s.watchBuffer, MinWatchBuffer)
	}
	ends := &streamEnds{ch: make(chan struct{}, 1)}
	api := v1.NewDroverServiceClient(serveAPI(t, s, ends))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws, err := api.WatchJobs(ctx, &v1.WatchJobsRequest{Namespace: "default", Options: &v1.ListOptions{ResourceVersion: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	all := make([]*v1.Job, store.MaxTxnOps-1)
	for i := range all {
		all[i] = smallJob(t, fmt.Sprintf("job-%03d", i))
	}
	errc := make(chan error, 1)
	go func() {
		for i := range all {
			m, err := ws.Recv()
			if err != nil {
				errc <- fmt.Errorf("after %d events: %w", i, err)
				return
			}
			if m.GetObject().GetMetadata().GetName() != all[i].Metadata.Name {
				errc <- fmt.Errorf("event %d is %s, want %s", i, m.GetObject().GetMetadata().GetName(), all[i].Metadata.Name)
				return
			}
		}
		errc <- nil
	}()
	putJobs(t, st, all, false)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	select {
	case <-ends.ch:
		t.Fatalf("the stream ended: %v", errors.Join(ends.errs...))
	default:
	}
}
