package worker

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/drover-dev/drover/internal/etcdtest"
)

// TestStreamLeaserRenewsOverOneStream: renewals share one LeaseKeepAlive
// stream; a lease etcd does not have is ErrLeaseNotFound and does not
// cost the stream; a broken stream is replaced within the same call; a
// call whose context has ended fails without costing the stream.
func TestStreamLeaserRenewsOverOneStream(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	var streams atomic.Int32
	counted, err := clientv3.New(clientv3.Config{
		Endpoints: cli.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainStreamInterceptor(
			func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				if method == "/etcdserverpb.Lease/LeaseKeepAlive" {
					streams.Add(1)
				}
				return streamer(ctx, desc, cc, method, opts...)
			})},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer counted.Close()
	l := newStreamLeaser(counted)
	defer l.Close()
	ctx := testCtx(t)

	g, err := l.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		resp, err := l.KeepAliveOnce(ctx, g.ID)
		if err != nil || resp.ID != g.ID || resp.TTL != 30 {
			t.Fatalf("renewal %d: %v, %v", i, resp, err)
		}
	}
	if n := streams.Load(); n != 1 {
		t.Errorf("5 renewals opened %d streams, want 1", n)
	}

	other, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Revoke(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.KeepAliveOnce(ctx, other.ID); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("revoked lease: err = %v, want ErrLeaseNotFound", err)
	}
	if _, err := l.KeepAliveOnce(ctx, g.ID); err != nil || streams.Load() != 1 {
		t.Fatalf("after a lease not found: err %v, %d streams", err, streams.Load())
	}

	// Break the stream under the leaser, as a reset connection would.
	l.mu.Lock()
	l.cancel()
	l.mu.Unlock()
	if _, err := l.KeepAliveOnce(ctx, g.ID); err != nil {
		t.Fatalf("renewal on a broken stream: %v", err)
	}
	if n := streams.Load(); n != 2 {
		t.Errorf("after a broken stream: %d streams opened, want 2", n)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.KeepAliveOnce(done, g.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended context: err = %v", err)
	}
	if _, err := l.KeepAliveOnce(ctx, g.ID); err != nil || streams.Load() != 2 {
		t.Fatalf("after an ended call: err %v, %d streams, want still 2", err, streams.Load())
	}

	l.Close()
	if _, err := l.KeepAliveOnce(ctx, g.ID); err == nil {
		t.Fatal("renewal after Close succeeded")
	}
}

// hangFirstLease is an etcd Lease service whose first keep-alive stream
// never answers (a paused or cut-off member) and whose later ones do.
type hangFirstLease struct {
	pb.UnimplementedLeaseServer
	streams atomic.Int32
}

func (s *hangFirstLease) LeaseKeepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	n := s.streams.Add(1)
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if n == 1 {
			<-stream.Context().Done()
			return stream.Context().Err()
		}
		if err := stream.Send(&pb.LeaseKeepAliveResponse{Header: &pb.ResponseHeader{}, ID: req.ID, TTL: 10}); err != nil {
			return err
		}
	}
}

// TestStreamLeaserLeavesAHungStream (SPEC N1, N4): a renewal whose stream
// never answers gives it a share of its time, then tries a new stream
// within the same call, instead of spending the whole call (and, twice in
// a row, the fence margin) on a hung member.
func TestStreamLeaserLeavesAHungStream(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	svc := &hangFirstLease{}
	pb.RegisterLeaseServer(srv, svc)
	go srv.Serve(lis)
	defer srv.Stop()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{lis.Addr().String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	l := newStreamLeaser(cli)
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := l.KeepAliveOnce(ctx, 42)
	if err != nil || resp.TTL != 10 {
		t.Fatalf("renewal: %v, %v", resp, err)
	}
	if n := svc.streams.Load(); n != 2 {
		t.Errorf("streams opened: %d, want 2 (the hung one, then another)", n)
	}
	if left, _ := ctx.Deadline(); time.Until(left) < time.Second {
		t.Errorf("the hung stream took %v of the call's 3 s, want about a third", 3*time.Second-time.Until(left))
	}
}
