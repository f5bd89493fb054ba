package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// renewAttempts is how many streams one renewal tries.
const renewAttempts = 3

// streamLeaser renews a lease over one long-lived LeaseKeepAlive stream, a
// request and its answer at a time, so that each renewal's outcome and
// round trip are seen (which the client's automatic keep-alive hides), as
// with clientv3's KeepAliveOnce, but without opening a new gRPC stream for
// every renewal: KeepAliveOnce costs etcd a stream set-up and tear-down
// (two goroutines) each time, which at 5,000 nodes is 500 streams a second
// (docs/benchmarks.md). The caller's goroutine reads the answer itself, so
// that no goroutine hand-off adds to the round trip on a loaded machine.
//
// A stream that fails, or whose answer does not come before the call's
// context ends (the context's end cancels the stream), is dropped; the next
// renewal opens a new one. Calls are serialized (the heartbeat makes one at
// a time).
type streamLeaser struct {
	cli *clientv3.Client

	mu     sync.Mutex
	stream pb.Lease_LeaseKeepAliveClient // nil: none open
	cancel context.CancelFunc            // ends stream
	closed bool
}

func newStreamLeaser(cli *clientv3.Client) *streamLeaser { return &streamLeaser{cli: cli} }

// Grant grants a lease.
func (l *streamLeaser) Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error) {
	return l.cli.Grant(ctx, ttl)
}

// KeepAliveOnce renews lease id once. A lease etcd no longer has is
// rpctypes.ErrLeaseNotFound.
func (l *streamLeaser) KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("worker: lease stream closed")
	}
	// Up to renewAttempts streams, each given an equal share of what is
	// left of the call's time: a stream may have broken since the last
	// renewal (etcd restarted, the connection was reset), or sit on a
	// member that hangs (paused, cut off) and never answers. A failed
	// stream is dropped, and the next attempt opens a new one, which the
	// client's balancer may send to another member. Without the shares, a
	// renewal stuck on a hung member would take the whole call's time,
	// and two in a row could outlast the fence margin.
	var resp *pb.LeaseKeepAliveResponse
	var err error
	for attempt := range renewAttempts {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok && attempt < renewAttempts-1 {
			actx, cancel = context.WithTimeout(ctx, time.Until(deadline)/time.Duration(renewAttempts-attempt))
		}
		resp, err = l.renew(actx, id)
		cancel()
		if err == nil || errors.Is(err, rpctypes.ErrLeaseNotFound) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return &clientv3.LeaseKeepAliveResponse{ResponseHeader: resp.GetHeader(), ID: clientv3.LeaseID(resp.GetID()), TTL: resp.GetTTL()}, nil
}

// renew sends one request and reads its answer. Called with l.mu held.
func (l *streamLeaser) renew(ctx context.Context, id clientv3.LeaseID) (*pb.LeaseKeepAliveResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.stream == nil {
		if err := l.open(); err != nil {
			return nil, err
		}
	}
	stream := l.stream
	// Recv takes no context: the call's end cancels the stream instead.
	stop := context.AfterFunc(ctx, l.cancel)
	if err := stream.Send(&pb.LeaseKeepAliveRequest{ID: int64(id)}); err != nil {
		stop()
		l.drop()
		return nil, l.failed(ctx, "send", err)
	}
	resp, err := stream.Recv()
	if !stop() {
		l.drop() // the context ended meanwhile: the stream is cancelled
	}
	if err != nil {
		l.drop()
		return nil, l.failed(ctx, "receive", err)
	}
	if resp.GetID() != int64(id) {
		l.drop()
		return nil, fmt.Errorf("lease keep-alive: answer for lease %x, asked for %x", resp.GetID(), int64(id))
	}
	if resp.GetTTL() <= 0 {
		return nil, rpctypes.ErrLeaseNotFound
	}
	return resp, nil
}

// failed is the error of a failed send or receive: the context's, if it
// ended (and so cancelled the stream).
func (l *streamLeaser) failed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("lease keep-alive: %s: %w", what, rpctypes.Error(err))
}

// open starts a stream. Called with l.mu held.
func (l *streamLeaser) open() error {
	// The stream lives until dropped, not for one call; require a
	// leader so that a member cut off from it ends the stream (and the
	// next renewal goes elsewhere) instead of answering.
	sctx, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	stream, err := pb.NewLeaseClient(l.cli.ActiveConnection()).LeaseKeepAlive(sctx)
	if err != nil {
		cancel()
		return fmt.Errorf("lease keep-alive: open stream: %w", rpctypes.Error(err))
	}
	l.stream, l.cancel = stream, cancel
	return nil
}

// drop ends the current stream. Called with l.mu held.
func (l *streamLeaser) drop() {
	if l.stream != nil {
		l.cancel()
		l.stream, l.cancel = nil, nil
	}
}

// Close ends the stream.
func (l *streamLeaser) Close() {
	l.mu.Lock()
	l.closed = true
	l.drop()
	l.mu.Unlock()
}
