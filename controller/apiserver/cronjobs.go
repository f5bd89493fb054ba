package apiserver

import (
	"context"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

// cronJobs is the CronJob kind for the shared handlers (workloads.go).
// Every spec field may change, as in Kubernetes: a new schedule or template
// applies from the next run; suspend is how `drover suspend` works.
// Deleting leaves the CronJob's Jobs to the garbage collector, or with
// Orphan removes its owner reference from them.
func (s *Server) cronJobs() workload[*v1.CronJob] {
	return workload[*v1.CronJob]{
		name: "cronjob", kind: s.st.CronJobs(),
		defaults: validation.DefaultCronJob, validate: validation.ValidateCronJob,
		spec:        func(o *v1.CronJob) proto.Message { return o.GetSpec() },
		setSpec:     func(dst, src *v1.CronJob) { dst.Spec = src.Spec },
		clearStatus: func(o *v1.CronJob) { o.Status = nil },
		orphanOwned: func(ctx context.Context, s *Server, namespace, uid string) error {
			return orphan(ctx, s.st.Jobs(), s.st, namespace, uid)
		},
	}
}

// CreateCronJob defaults, validates and stores a new CronJob (SPEC O4, C1).
func (s *Server) CreateCronJob(ctx context.Context, req *v1.CreateCronJobRequest) (*v1.CreateCronJobResponse, error) {
	if req.GetCronJob() == nil {
		return nil, invalid("cronJob", "required")
	}
	cj, err := s.cronJobs().create(ctx, s, req.GetCronJob(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &v1.CreateCronJobResponse{CronJob: cj}, nil
}

// GetCronJob returns one CronJob.
func (s *Server) GetCronJob(ctx context.Context, req *v1.GetCronJobRequest) (*v1.GetCronJobResponse, error) {
	cj, err := s.cronJobs().get(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
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
	return watchKind(s, srv, s.st.CronJobs(), req.GetNamespace(), req.GetOptions(), func(typ string, cj *v1.CronJob) proto.Message {
		return &v1.WatchCronJobsResponse{Type: typ, Object: cj}
	})
}

// UpdateCronJob replaces a CronJob's labels, annotations and spec; status
// is kept. A set metadata.resourceVersion must match the stored one.
func (s *Server) UpdateCronJob(ctx context.Context, req *v1.UpdateCronJobRequest) (*v1.UpdateCronJobResponse, error) {
	cj, err := s.cronJobs().update(ctx, req.GetCronJob())
	if err != nil {
		return nil, err
	}
	return &v1.UpdateCronJobResponse{CronJob: cj}, nil
}

// DeleteCronJob deletes a CronJob; its Jobs follow unless orphaned (J12, C5).
func (s *Server) DeleteCronJob(ctx context.Context, req *v1.DeleteCronJobRequest) (*v1.DeleteCronJobResponse, error) {
	cj, err := s.cronJobs().delete(ctx, s, req.GetNamespace(), req.GetName(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &v1.DeleteCronJobResponse{CronJob: cj}, nil
}
