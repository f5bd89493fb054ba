package apiserver

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// GetPod returns one pod.
func (s *Server) GetPod(ctx context.Context, req *v1.GetPodRequest) (*v1.GetPodResponse, error) {
	p, err := s.st.Pods().Get(ctx, ns(req.GetNamespace()), req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("pod", ns(req.GetNamespace()), req.GetName())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &v1.GetPodResponse{Pod: p}, nil
}

// ListPods lists pods.
func (s *Server) ListPods(ctx context.Context, req *v1.ListPodsRequest) (*v1.ListPodsResponse, error) {
	items, meta, err := listPage(ctx, s.st.Pods(), req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &v1.ListPodsResponse{Items: items, Metadata: meta}, nil
}

// WatchPods streams pod changes.
func (s *Server) WatchPods(req *v1.WatchPodsRequest, srv v1.DroverService_WatchPodsServer) error {
	return watchKind(s, srv, s.st.Pods(), req.GetNamespace(), req.GetOptions(), func(typ string, p *v1.Pod) proto.Message {
		return &v1.WatchPodsResponse{Type: typ, Object: p}
	})
}

// DeletePod deletes a pod gracefully: a pod that runs gets a
// deletionTimestamp and its worker stops it (SIGTERM, then SIGKILL after its
// grace period); it is removed once stopped and counted by its Job (J11). A
// pod that never ran is removed at once.
func (s *Server) DeletePod(ctx context.Context, req *v1.DeletePodRequest) (*v1.DeletePodResponse, error) {
	namespace, name := ns(req.GetNamespace()), req.GetName()
	for {
		p, err := s.st.Pods().Get(ctx, namespace, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("pod", namespace, name)
		}
		if err != nil {
			return nil, toStatus(err)
		}
		if rv := req.GetOptions().GetResourceVersion(); rv != "" && rv != p.Metadata.ResourceVersion {
			return nil, conflict("pod", name)
		}
		tx := s.st.Txn()
		node := p.GetSpec().GetNodeName()
		terminal := p.GetStatus().GetPhase() == "Succeeded" || p.GetStatus().GetPhase() == "Failed"
		switch {
		case node == "" || terminal && len(p.Metadata.Finalizers) == 0:
			tx.Delete(p)
			if node != "" {
				tx.DeleteAssignment(node, namespace, name)
			}
		case p.Metadata.DeletionTimestamp != nil:
			return &v1.DeletePodResponse{Pod: p}, nil // already being deleted
		default:
			p.Metadata.DeletionTimestamp = timestamppb.New(s.clk.Now())
			tx.Update(p)
			if !terminal {
				tx.PutAssignment(p)
			}
		}
		_, err = tx.Commit(ctx)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return &v1.DeletePodResponse{Pod: p}, nil
	}
}
