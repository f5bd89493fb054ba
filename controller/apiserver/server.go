// Package apiserver implements the gRPC DroverService that every controller
// replica serves (SPEC L3, I1). Writes are defaulted and validated before
// they reach etcd (O4); errors carry gRPC codes (errors.go).
package apiserver

import (
	"context"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/leader"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// Server is the API. It is stateless: every call reads or writes etcd.
type Server struct {
	v1.UnimplementedDroverServiceServer
	st       *store.Store
	identity string
	clk      clock.Clock
	lg       *zap.Logger
	dial     func(ctx context.Context, addr string) (*grpc.ClientConn, error)
	// watchBuffer bounds what a watch stream holds for its client (watch.go).
	watchBuffer int
	// watchesBehind counts the watch streams ended for falling behind.
	watchesBehind atomic.Int64
}

// New returns an API server over st; identity names this replica.
func New(st *store.Store, identity string, clk clock.Clock, lg *zap.Logger, opts ...Option) *Server {
	s := &Server{st: st, identity: identity, clk: clk, lg: lg.Named("api"), dial: dialAgent, watchBuffer: DefaultWatchBuffer}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register adds the service to g.
func (s *Server) Register(g *grpc.Server) { v1.RegisterDroverServiceServer(g, s) }

// GetLeader reports the current leader (SPEC L1).
func (s *Server) GetLeader(ctx context.Context, _ *v1.GetLeaderRequest) (*v1.GetLeaderResponse, error) {
	id, rev, err := leader.Leader(ctx, s.st.Client())
	if err != nil {
		return nil, toStatus(err)
	}
	return &v1.GetLeaderResponse{Identity: id, Revision: rev, ServingIdentity: s.identity}, nil
}

// leaseTimeToLive returns the remaining TTL of a lease, or -1.
func (s *Server) leaseTimeToLive(ctx context.Context, id int64) time.Duration {
	if id == 0 {
		return -1
	}
	resp, err := s.st.Client().TimeToLive(ctx, clientv3.LeaseID(id))
	if err != nil || resp.TTL < 0 {
		return -1
	}
	return time.Duration(resp.TTL) * time.Second
}
