package apiserver

import (
	"context"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

// daemonSets is the DaemonSet kind for the shared handlers (workloads.go).
// The selector is immutable; a changed template starts a rollout (SPEC D2).
// Deleting leaves the DaemonSet's pods to the garbage collector, or with
// Orphan removes its owner reference from them so they keep running.
func (s *Server) daemonSets() workload[*v1.DaemonSet] {
	return workload[*v1.DaemonSet]{
		name: "daemonset", kind: s.st.DaemonSets(),
		defaults: validation.DefaultDaemonSet, validate: validation.ValidateDaemonSet,
		spec:        func(o *v1.DaemonSet) proto.Message { return o.GetSpec() },
		setSpec:     func(dst, src *v1.DaemonSet) { dst.Spec = src.Spec },
		clearStatus: func(o *v1.DaemonSet) { o.Status = nil },
		immutable: func(old, in *v1.DaemonSet) error {
			if !proto.Equal(in.GetSpec().GetSelector(), old.GetSpec().GetSelector()) {
				return invalid("spec.selector", "field is immutable")
			}
			return nil
		},
		orphanOwned: func(ctx context.Context, s *Server, namespace, uid string) error {
			return orphan(ctx, s.st.Pods(), s.st, namespace, uid)
		},
	}
}

// CreateDaemonSet defaults, validates and stores a new DaemonSet (SPEC O4, D1).
func (s *Server) CreateDaemonSet(ctx context.Context, req *v1.CreateDaemonSetRequest) (*v1.CreateDaemonSetResponse, error) {
	if req.GetDaemonSet() == nil {
		return nil, invalid("daemonSet", "required")
	}
	ds, err := s.daemonSets().create(ctx, s, req.GetDaemonSet(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &v1.CreateDaemonSetResponse{DaemonSet: ds}, nil
}

// GetDaemonSet returns one DaemonSet.
func (s *Server) GetDaemonSet(ctx context.Context, req *v1.GetDaemonSetRequest) (*v1.GetDaemonSetResponse, error) {
	ds, err := s.daemonSets().get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &v1.GetDaemonSetResponse{DaemonSet: ds}, nil
}

// ListDaemonSets lists DaemonSets.
func (s *Server) ListDaemonSets(ctx context.Context, req *v1.ListDaemonSetsRequest) (*v1.ListDaemonSetsResponse, error) {
	items, meta, err := listPage(ctx, s.st.DaemonSets(), req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &v1.ListDaemonSetsResponse{Items: items, Metadata: meta}, nil
}

// WatchDaemonSets streams DaemonSet changes.
func (s *Server) WatchDaemonSets(req *v1.WatchDaemonSetsRequest, srv v1.DroverService_WatchDaemonSetsServer) error {
	return watchKind(s, srv, s.st.DaemonSets(), req.GetNamespace(), req.GetOptions(), func(typ string, ds *v1.DaemonSet) proto.Message {
		return &v1.WatchDaemonSetsResponse{Type: typ, Object: ds}
	})
}

// UpdateDaemonSet replaces a DaemonSet's labels, annotations and spec;
// status is kept. A set metadata.resourceVersion must match the stored one.
func (s *Server) UpdateDaemonSet(ctx context.Context, req *v1.UpdateDaemonSetRequest) (*v1.UpdateDaemonSetResponse, error) {
	ds, err := s.daemonSets().update(ctx, req.GetDaemonSet())
	if err != nil {
		return nil, err
	}
	return &v1.UpdateDaemonSetResponse{DaemonSet: ds}, nil
}

// DeleteDaemonSet deletes a DaemonSet; its pods follow unless orphaned (J12, D1).
func (s *Server) DeleteDaemonSet(ctx context.Context, req *v1.DeleteDaemonSetRequest) (*v1.DeleteDaemonSetResponse, error) {
	ds, err := s.daemonSets().delete(ctx, s, req.GetNamespace(), req.GetName(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &v1.DeleteDaemonSetResponse{DaemonSet: ds}, nil
}
