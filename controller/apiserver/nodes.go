package apiserver

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// withHeartbeat fills status.lastHeartbeatTime from the lease's remaining
// TTL: the worker renewed it (granted TTL - remaining) ago.
func (s *Server) withHeartbeat(ctx context.Context, n *v1.Node) *v1.Node {
	st := n.GetStatus()
	if st == nil || st.LeaseId == 0 || st.LeaseTtlSeconds == 0 {
		return n
	}
	left := s.leaseTimeToLive(ctx, st.LeaseId)
	if left < 0 {
		return n
	}
	ago := max(0, int64(st.LeaseTtlSeconds)-int64(left.Seconds()))
	st.LastHeartbeatTime = timestamppb.New(s.clk.Now().Add(-secondsDuration(ago)))
	return n
}

// GetNode returns one node, with its last heartbeat time.
func (s *Server) GetNode(ctx context.Context, req *v1.GetNodeRequest) (*v1.GetNodeResponse, error) {
	n, err := s.st.Nodes().Get(ctx, "", req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("node", "", req.GetName())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &v1.GetNodeResponse{Node: s.withHeartbeat(ctx, n)}, nil
}

// ListNodes lists nodes, with their last heartbeat times.
func (s *Server) ListNodes(ctx context.Context, req *v1.ListNodesRequest) (*v1.ListNodesResponse, error) {
	items, meta, err := listPage(ctx, s.st.Nodes(), "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	// One lease look-up a node: run up to 32 at once, so that a list of
	// thousands of nodes costs a few hundred round trips, not thousands.
	var g errgroup.Group
	g.SetLimit(32)
	for _, n := range items {
		g.Go(func() error { s.withHeartbeat(ctx, n); return nil })
	}
	_ = g.Wait()
	return &v1.ListNodesResponse{Items: items, Metadata: meta}, nil
}

// WatchNodes streams node changes.
func (s *Server) WatchNodes(req *v1.WatchNodesRequest, srv v1.DroverService_WatchNodesServer) error {
	return watchKind(s, srv, s.st.Nodes(), "", req.GetOptions(), func(typ string, n *v1.Node) proto.Message {
		return &v1.WatchNodesResponse{Type: typ, Object: n}
	})
}

// UpdateNode changes a node's labels, annotations and spec.unschedulable
// (cordon, SPEC N5); its status belongs to the worker and the controller.
func (s *Server) UpdateNode(ctx context.Context, req *v1.UpdateNodeRequest) (*v1.UpdateNodeResponse, error) {
	in := req.GetNode()
	name := in.GetMetadata().GetName()
	if name == "" {
		return nil, invalid("metadata.name", "required")
	}
	for {
		old, err := s.st.Nodes().Get(ctx, "", name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("node", "", name)
		}
		if err != nil {
			return nil, toStatus(err)
		}
		if rv := in.Metadata.ResourceVersion; rv != "" && rv != old.Metadata.ResourceVersion {
			return nil, conflict("node", name)
		}
		upd := proto.Clone(old).(*v1.Node)
		upd.Metadata.Labels, upd.Metadata.Annotations = in.Metadata.Labels, in.Metadata.Annotations
		if upd.Spec == nil {
			upd.Spec = &v1.NodeSpec{}
		}
		upd.Spec.Unschedulable = in.GetSpec().GetUnschedulable()
		if proto.Equal(upd, old) {
			return &v1.UpdateNodeResponse{Node: old}, nil
		}
		_, err = s.st.Nodes().Update(ctx, upd)
		if errors.Is(err, store.ErrConflict) && in.Metadata.ResourceVersion == "" {
			continue
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return &v1.UpdateNodeResponse{Node: upd}, nil
	}
}

// DeleteNode removes a node object. Its worker registers it again if it runs.
func (s *Server) DeleteNode(ctx context.Context, req *v1.DeleteNodeRequest) (*v1.DeleteNodeResponse, error) {
	n, err := s.st.Nodes().Get(ctx, "", req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("node", "", req.GetName())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	if err := s.st.Nodes().Delete(ctx, "", req.GetName(), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, toStatus(err)
	}
	return &v1.DeleteNodeResponse{Node: n}, nil
}

// ListEvents lists events.
func (s *Server) ListEvents(ctx context.Context, req *v1.ListEventsRequest) (*v1.ListEventsResponse, error) {
	items, meta, err := listPage(ctx, s.st.Events(), req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &v1.ListEventsResponse{Items: items, Metadata: meta}, nil
}

// WatchEvents streams events.
func (s *Server) WatchEvents(req *v1.WatchEventsRequest, srv v1.DroverService_WatchEventsServer) error {
	return watchKind(s, srv, s.st.Events(), req.GetNamespace(), req.GetOptions(), func(typ string, e *v1.Event) proto.Message {
		return &v1.WatchEventsResponse{Type: typ, Object: e}
	})
}
