package apiserver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobctl "github.com/drover-dev/drover/controller/job"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/validation"
)

// CreateDaemonSet defaults, validates and stores a new DaemonSet (SPEC O4, D1).
func (s *Server) CreateDaemonSet(ctx context.Context, req *v1.CreateDaemonSetRequest) (*v1.CreateDaemonSetResponse, error) {
	if req.GetDaemonSet() == nil {
		return nil, invalid("daemonSet", "required")
	}
	ds := proto.Clone(req.GetDaemonSet()).(*v1.DaemonSet)
	validation.DefaultDaemonSet(ds)
	md := ds.Metadata
	if md.Name == "" && md.GenerateName != "" {
		md.Name = md.GenerateName + randomSuffix()
	}
	md.Uid = jobctl.NewUID()
	md.CreationTimestamp = timestamppb.New(s.clk.Now())
	md.ResourceVersion, md.DeletionTimestamp, md.Finalizers, md.Generation = "", nil, nil, 1
	ds.Status = nil
	if err := validation.ValidateDaemonSet(ds); err != nil {
		return nil, toStatus(err)
	}
	if req.GetDryRun() {
		return &v1.CreateDaemonSetResponse{DaemonSet: ds}, nil
	}
	if _, err := s.st.DaemonSets().Create(ctx, ds); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, toStatus(fmt.Errorf("daemonset %q already exists in namespace %q: %w", md.Name, md.Namespace, store.ErrAlreadyExists))
		}
		return nil, toStatus(err)
	}
	return &v1.CreateDaemonSetResponse{DaemonSet: ds}, nil
}

// GetDaemonSet returns one DaemonSet.
func (s *Server) GetDaemonSet(ctx context.Context, req *v1.GetDaemonSetRequest) (*v1.GetDaemonSetResponse, error) {
	ds, err := s.st.DaemonSets().Get(ctx, ns(req.GetNamespace()), req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("daemonset", ns(req.GetNamespace()), req.GetName())
	}
	if err != nil {
		return nil, toStatus(err)
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
	return watchKind(srv.Context(), s.st.DaemonSets(), req.GetNamespace(), req.GetOptions(), func(typ string, ds *v1.DaemonSet) error {
		return srv.Send(&v1.WatchDaemonSetsResponse{Type: typ, Object: ds})
	})
}

// UpdateDaemonSet replaces a DaemonSet's labels, annotations and spec; the
// selector is immutable. A changed spec raises metadata.generation, and a
// changed template starts a rollout (SPEC D2). A set
// metadata.resourceVersion must match the stored one.
func (s *Server) UpdateDaemonSet(ctx context.Context, req *v1.UpdateDaemonSetRequest) (*v1.UpdateDaemonSetResponse, error) {
	in := req.GetDaemonSet()
	if in.GetMetadata().GetName() == "" {
		return nil, invalid("metadata.name", "required")
	}
	in = proto.Clone(in).(*v1.DaemonSet)
	validation.DefaultDaemonSet(in)
	namespace, name := in.Metadata.Namespace, in.Metadata.Name
	for {
		old, err := s.st.DaemonSets().Get(ctx, namespace, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("daemonset", namespace, name)
		}
		if err != nil {
			return nil, toStatus(err)
		}
		if rv := in.Metadata.ResourceVersion; rv != "" && rv != old.Metadata.ResourceVersion {
			return nil, conflict("daemonset", name)
		}
		if old.Metadata.DeletionTimestamp != nil {
			return nil, invalid("metadata.deletionTimestamp", "the DaemonSet is being deleted")
		}
		if !proto.Equal(in.Spec.GetSelector(), old.Spec.GetSelector()) {
			return nil, invalid("spec.selector", "field is immutable")
		}
		upd := proto.Clone(old).(*v1.DaemonSet)
		upd.Metadata.Labels, upd.Metadata.Annotations = in.Metadata.Labels, in.Metadata.Annotations
		upd.Spec = in.Spec
		if !proto.Equal(upd.Spec, old.Spec) {
			upd.Metadata.Generation++
		}
		if err := validation.ValidateDaemonSet(upd); err != nil {
			return nil, toStatus(err)
		}
		if proto.Equal(upd, old) {
			return &v1.UpdateDaemonSetResponse{DaemonSet: old}, nil
		}
		_, err = s.st.DaemonSets().Update(ctx, upd)
		if errors.Is(err, store.ErrConflict) {
			if in.Metadata.ResourceVersion != "" {
				return nil, conflict("daemonset", name)
			}
			continue // the controller wrote status meanwhile; merge again
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return &v1.UpdateDaemonSetResponse{DaemonSet: upd}, nil
	}
}

// DeleteDaemonSet deletes a DaemonSet. Background and Foreground (the same
// here) leave its pods to the garbage collector, which stops and removes
// them; Orphan removes the owner reference from its pods first, so they
// keep running.
func (s *Server) DeleteDaemonSet(ctx context.Context, req *v1.DeleteDaemonSetRequest) (*v1.DeleteDaemonSetResponse, error) {
	namespace, name := ns(req.GetNamespace()), req.GetName()
	ds, err := s.st.DaemonSets().Get(ctx, namespace, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("daemonset", namespace, name)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	if rv := req.GetOptions().GetResourceVersion(); rv != "" && rv != ds.Metadata.ResourceVersion {
		return nil, conflict("daemonset", name)
	}
	switch policy := req.GetOptions().GetPropagationPolicy(); policy {
	case "", "Background", "Foreground":
	case "Orphan":
		if err := orphan(ctx, s.st.Pods(), s.st, namespace, ds.Metadata.Uid); err != nil {
			return nil, toStatus(err)
		}
	default:
		return nil, invalid("options.propagationPolicy", fmt.Sprintf("unknown value %q: must be one of Background, Foreground, Orphan", policy))
	}
	if err := s.st.DaemonSets().Delete(ctx, namespace, name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, toStatus(err)
	}
	return &v1.DeleteDaemonSetResponse{DaemonSet: ds}, nil
}
