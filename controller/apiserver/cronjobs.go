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

// CreateCronJob defaults, validates and stores a new CronJob (SPEC O4, C1).
func (s *Server) CreateCronJob(ctx context.Context, req *v1.CreateCronJobRequest) (*v1.CreateCronJobResponse, error) {
	if req.GetCronJob() == nil {
		return nil, invalid("cronJob", "required")
	}
	cj := proto.Clone(req.GetCronJob()).(*v1.CronJob)
	validation.DefaultCronJob(cj)
	md := cj.Metadata
	if md.Name == "" && md.GenerateName != "" {
		md.Name = md.GenerateName + randomSuffix()
	}
	md.Uid = jobctl.NewUID()
	md.CreationTimestamp = timestamppb.New(s.clk.Now())
	md.ResourceVersion, md.DeletionTimestamp, md.Finalizers, md.Generation = "", nil, nil, 1
	cj.Status = nil
	if err := validation.ValidateCronJob(cj); err != nil {
		return nil, toStatus(err)
	}
	if req.GetDryRun() {
		return &v1.CreateCronJobResponse{CronJob: cj}, nil
	}
	if _, err := s.st.CronJobs().Create(ctx, cj); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, toStatus(fmt.Errorf("cronjob %q already exists in namespace %q: %w", md.Name, md.Namespace, store.ErrAlreadyExists))
		}
		return nil, toStatus(err)
	}
	return &v1.CreateCronJobResponse{CronJob: cj}, nil
}

// GetCronJob returns one CronJob.
func (s *Server) GetCronJob(ctx context.Context, req *v1.GetCronJobRequest) (*v1.GetCronJobResponse, error) {
	cj, err := s.st.CronJobs().Get(ctx, ns(req.GetNamespace()), req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("cronjob", ns(req.GetNamespace()), req.GetName())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &v1.GetCronJobResponse{CronJob: cj}, nil
}

// ListCronJobs lists CronJobs.
func (s *Server) ListCronJobs(ctx context.Context, req *v1.ListCronJobsRequest) (*v1.ListCronJobsResponse, error) {
	items, meta, err := listPage(ctx, s.st.CronJobs(), req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &v1.ListCronJobsResponse{Items: items, Metadata: meta}, nil
}

// WatchCronJobs streams CronJob changes.
func (s *Server) WatchCronJobs(req *v1.WatchCronJobsRequest, srv v1.DroverService_WatchCronJobsServer) error {
	return watchKind(srv.Context(), s.st.CronJobs(), req.GetNamespace(), req.GetOptions(), func(typ string, cj *v1.CronJob) error {
		return srv.Send(&v1.WatchCronJobsResponse{Type: typ, Object: cj})
	})
}

// UpdateCronJob replaces a CronJob's labels, annotations and spec (every
// spec field may change, as in Kubernetes: a new schedule or template
// applies from the next run; suspend is how `drover suspend` works). Status
// is kept. A set metadata.resourceVersion must match the stored one.
func (s *Server) UpdateCronJob(ctx context.Context, req *v1.UpdateCronJobRequest) (*v1.UpdateCronJobResponse, error) {
	in := req.GetCronJob()
	if in.GetMetadata().GetName() == "" {
		return nil, invalid("metadata.name", "required")
	}
	in = proto.Clone(in).(*v1.CronJob)
	validation.DefaultCronJob(in)
	namespace, name := in.Metadata.Namespace, in.Metadata.Name
	for {
		old, err := s.st.CronJobs().Get(ctx, namespace, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("cronjob", namespace, name)
		}
		if err != nil {
			return nil, toStatus(err)
		}
		if rv := in.Metadata.ResourceVersion; rv != "" && rv != old.Metadata.ResourceVersion {
			return nil, conflict("cronjob", name)
		}
		upd := proto.Clone(old).(*v1.CronJob)
		upd.Metadata.Labels, upd.Metadata.Annotations = in.Metadata.Labels, in.Metadata.Annotations
		upd.Spec = in.Spec
		if !proto.Equal(upd.Spec, old.Spec) {
			upd.Metadata.Generation++
		}
		if err := validation.ValidateCronJob(upd); err != nil {
			return nil, toStatus(err)
		}
		if proto.Equal(upd, old) {
			return &v1.UpdateCronJobResponse{CronJob: old}, nil
		}
		_, err = s.st.CronJobs().Update(ctx, upd)
		if errors.Is(err, store.ErrConflict) {
			if in.Metadata.ResourceVersion != "" {
				return nil, conflict("cronjob", name)
			}
			continue // the controller wrote status meanwhile; merge again
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return &v1.UpdateCronJobResponse{CronJob: upd}, nil
	}
}

// DeleteCronJob deletes a CronJob. Background and Foreground (the same
// here) leave its Jobs to the garbage collector, which deletes them and so
// their pods; Orphan removes the CronJob's owner reference from its Jobs
// first, so they stay.
func (s *Server) DeleteCronJob(ctx context.Context, req *v1.DeleteCronJobRequest) (*v1.DeleteCronJobResponse, error) {
	namespace, name := ns(req.GetNamespace()), req.GetName()
	cj, err := s.st.CronJobs().Get(ctx, namespace, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("cronjob", namespace, name)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	if rv := req.GetOptions().GetResourceVersion(); rv != "" && rv != cj.Metadata.ResourceVersion {
		return nil, conflict("cronjob", name)
	}
	switch policy := req.GetOptions().GetPropagationPolicy(); policy {
	case "", "Background", "Foreground":
	case "Orphan":
		if err := orphan(ctx, s.st.Jobs(), s.st, namespace, cj.Metadata.Uid); err != nil {
			return nil, toStatus(err)
		}
	default:
		return nil, invalid("options.propagationPolicy", fmt.Sprintf("unknown value %q: must be one of Background, Foreground, Orphan", policy))
	}
	if err := s.st.CronJobs().Delete(ctx, namespace, name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, toStatus(err)
	}
	return &v1.DeleteCronJobResponse{CronJob: cj}, nil
}

// orphan removes the owner reference to uid from every object of kind k in
// namespace, so that the garbage collector leaves them alone.
func orphan[T store.Object](ctx context.Context, k store.Kind[T], st *store.Store, namespace, uid string) error {
	for {
		objs, _, err := k.List(ctx, namespace)
		if err != nil {
			return err
		}
		tx := st.Txn()
		for _, o := range objs {
			md := o.GetMetadata()
			var refs []*v1.OwnerReference
			for _, r := range md.GetOwnerReferences() {
				if r.GetUid() != uid {
					refs = append(refs, r)
				}
			}
			if len(refs) == len(md.GetOwnerReferences()) || tx.Len() >= store.MaxTxnOps {
				continue
			}
			md.OwnerReferences = refs
			tx.Update(o)
		}
		if tx.Len() == 0 {
			return nil
		}
		if _, err := tx.Commit(ctx); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}
