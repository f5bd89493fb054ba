package leader

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// recorder runs an Elector and records when it leads.
type recorder struct {
	mu     sync.Mutex
	leads  chan string
	stores []*store.Store
}

func (r *recorder) lead(name string) LeadFunc {
	return func(ctx context.Context, st *store.Store) {
		r.mu.Lock()
		r.stores = append(r.stores, st)
		r.mu.Unlock()
		r.leads <- name
		<-ctx.Done()
	}
}

// TestCleanStopHandsOverAtOnce is SPEC L2: a leader that stops cleanly
// resigns, so the next replica leads without waiting for the session TTL
// (30 s here).
func TestCleanStopHandsOverAtOnce(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	lg := zaptest.NewLogger(t)
	r := &recorder{leads: make(chan string, 4)}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA := make(chan struct{})
	go func() { defer close(doneA); _ = New(cli, "a", 30*time.Second, lg).Run(ctxA, r.lead("a")) }()
	if got := <-r.leads; got != "a" {
		t.Fatalf("first leader %s", got)
	}
	go func() { _ = New(cli, "b", 30*time.Second, lg).Run(ctxB, r.lead("b")) }()
	id, _, err := Leader(context.Background(), cli)
	if err != nil || id != "a" {
		t.Fatalf("Leader() = %q, %v; want a", id, err)
	}
	start := time.Now()
	stopA()
	<-doneA
	select {
	case got := <-r.leads:
		if got != "b" {
			t.Fatalf("second leader %s", got)
		}
		t.Logf("hand-over took %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("no hand-over within 10 s of a clean stop (session TTL is 30 s)")
	}
	// The first leader's fenced store can no longer write (L1).
	r.mu.Lock()
	old := r.stores[0]
	r.mu.Unlock()
	j := &v1.Job{Metadata: &v1.ObjectMeta{Name: "x", Namespace: "default"}, Spec: &v1.JobSpec{Parallelism: proto.Int32(1)}}
	if _, err := old.Txn().Create(j).Commit(context.Background()); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("old leader's write: %v, want ErrNotLeader", err)
	}
}

// TestFencedWriteStepsDown: a fenced write failure cancels the leader's
// context at once, even while its session is still alive.
func TestFencedWriteStepsDown(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	lg := zaptest.NewLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stepped := make(chan struct{})
	go func() {
		_ = New(cli, "a", 30*time.Second, lg).Run(ctx, func(lctx context.Context, st *store.Store) {
			// Someone removes the election key (as if the session had expired).
			if _, err := cli.Delete(lctx, store.LeaderPrefix, clientv3.WithPrefix()); err != nil {
				t.Error(err)
			}
			j := &v1.Job{Metadata: &v1.ObjectMeta{Name: "y", Namespace: "default"}}
			if _, err := st.Txn().Create(j).Commit(lctx); !errors.Is(err, store.ErrNotLeader) {
				t.Errorf("write after losing the key: %v", err)
			}
			select {
			case <-lctx.Done():
				close(stepped)
			case <-time.After(5 * time.Second):
				t.Error("leader context not cancelled after a fenced write")
			}
			cancel()
		})
	}()
	select {
	case <-stepped:
	case <-time.After(20 * time.Second):
		t.Fatal("did not step down")
	}
}

func TestSessionTTLLeavesRoomForExpiry(t *testing.T) {
	for ttl, want := range map[time.Duration]int{10 * time.Second: 9, 3 * time.Second: 2, 2 * time.Second: 1, time.Second: 1, 1500 * time.Millisecond: 1} {
		if got := sessionTTL(ttl); got != want {
			t.Errorf("sessionTTL(%v) = %d, want %d", ttl, got, want)
		}
	}
}
