package cache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// TestListOverPagesMissesNoWrite: writes made while the cache lists page by
// page reach it, whichever page their key falls on. Here, after the first
// page has been read, a node's liveness key (which sorts onto that page) is
// written, then the node: the cache must see both, or the node would be
// declared lost for good (SPEC N2). Taking the revision of each page's
// response header (etcd's current one) lost the liveness key.
func TestListOverPagesMissesNoWrite(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := store.New(cli)
	for _, n := range []string{"a", "b", "c", "d"} {
		if _, err := cli.Put(ctx, store.HeartbeatKey(n), "{}"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Nodes().Create(ctx, &v1.Node{Metadata: &v1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}

	// The cache's client writes "b2"'s liveness key, then its node,
	// right after the first page of the list.
	var once sync.Once
	wrote := make(chan error, 1)
	intercept := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if r, ok := req.(*etcdserverpb.RangeRequest); ok && r.Limit > 0 && err == nil {
			once.Do(func() {
				_, e := cli.Put(ctx, store.HeartbeatKey("b2"), "{}")
				if e == nil {
					_, e = st.Nodes().Create(ctx, &v1.Node{Metadata: &v1.ObjectMeta{Name: "b2"}})
				}
				wrote <- e
			})
		}
		return err
	}
	ccli, err := clientv3.New(clientv3.Config{
		Endpoints: cli.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(intercept)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ccli.Close()

	ca := cache.New(store.New(ccli), zaptest.NewLogger(t))
	ca.ListPageSize = 3 // liveness keys a, b, c on the first page
	go func() { _ = ca.Run(ctx) }()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	r, err := cli.Get(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := ca.WaitForRevision(wctx, r.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if ca.Node("b2") == nil {
		t.Fatal("node b2 written during the list is not cached")
	}
	for _, n := range []string{"a", "b", "b2", "c", "d"} {
		if !ca.Alive(n) {
			t.Errorf("node %s not alive in the cache", n)
		}
	}
}
