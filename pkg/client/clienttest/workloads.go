package clienttest

// CronJobs and DaemonSets, served like Jobs: created objects are defaulted
// and validated with package validation, updates check resourceVersion,
// deletes remove the object only (nothing it owns).

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

// PutCronJob stores a CronJob as given (no validation).
func (s *Server) PutCronJob(cj *v1.CronJob) { s.seed(kindCronJob, cj) }

// PutDaemonSet stores a DaemonSet as given (no validation).
func (s *Server) PutDaemonSet(ds *v1.DaemonSet) { s.seed(kindDaemonSet, ds) }

// createObj admits and stores a new object of kind k.
func createObj[T object](s *Server, method string, k kind, in T, dryRun bool, admit func(T) error) (T, error) {
	var zero T
	if err := s.enter(method); err != nil {
		return zero, err
	}
	o := proto.Clone(in).(T)
	if err := admit(o); err != nil {
		return zero, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[k][objKey(o)]; ok {
		return zero, status.Errorf(codes.AlreadyExists, "%s %q already exists", k, o.GetMetadata().GetName())
	}
	s.uid++
	o.GetMetadata().Uid = fmt.Sprintf("uid-%d", s.uid)
	if dryRun {
		return o, nil
	}
	return s.put(k, o, "ADDED").(T), nil
}

// getObj returns a stored object of kind k.
func getObj[T object](s *Server, method string, k kind, ns, name string) (T, error) {
	var zero T
	if err := s.enter(method); err != nil {
		return zero, err
	}
	o, err := s.get(k, defaultNS(ns), name)
	if err != nil {
		return zero, err
	}
	return o.(T), nil
}

// listObjs lists stored objects of kind k.
func listObjs[T object](s *Server, method string, k kind, ns string, opts *v1.ListOptions) ([]T, *v1.ListMeta, error) {
	if err := s.enter(method); err != nil {
		return nil, nil, err
	}
	objs, meta, err := s.list(k, ns, opts)
	if err != nil {
		return nil, nil, err
	}
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = o.(T)
	}
	return out, meta, nil
}

// updateObj replaces a stored object's spec and metadata, checking
// resourceVersion, and keeps its uid and status (copied by keep).
func updateObj[T object](s *Server, method string, k kind, in T, admit func(T) error, keep func(old, upd T)) (T, error) {
	var zero T
	if err := s.enter(method); err != nil {
		return zero, err
	}
	o := proto.Clone(in).(T)
	if o.GetMetadata() == nil {
		return zero, validation.ErrorList{{Field: "metadata.name", Detail: "required"}}
	}
	o.GetMetadata().Namespace = defaultNS(o.GetMetadata().GetNamespace())
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.objs[k][objKey(o)]
	if !ok {
		return zero, status.Errorf(codes.NotFound, "%s %q not found", k, o.GetMetadata().GetName())
	}
	if rv := o.GetMetadata().GetResourceVersion(); rv != "" && rv != old.GetMetadata().GetResourceVersion() {
		return zero, status.Errorf(codes.Aborted, "%s %q was changed: resourceVersion %s is not %s", k, o.GetMetadata().GetName(), rv, old.GetMetadata().GetResourceVersion())
	}
	o.GetMetadata().Uid = old.GetMetadata().GetUid()
	keep(old.(T), o)
	if err := admit(o); err != nil {
		return zero, err
	}
	return s.put(k, o, "MODIFIED").(T), nil
}

// deleteObj removes a stored object of kind k.
func deleteObj[T object](s *Server, method string, k kind, ns, name string) (T, error) {
	var zero T
	if err := s.enter(method); err != nil {
		return zero, err
	}
	o, err := s.get(k, defaultNS(ns), name)
	if err != nil {
		return zero, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(k, o, "DELETED").(T), nil
}

func admitCronJob(cj *v1.CronJob) error {
	validation.DefaultCronJob(cj)
	return validation.ValidateCronJob(cj)
}

func admitDaemonSet(ds *v1.DaemonSet) error {
	validation.DefaultDaemonSet(ds)
	return validation.ValidateDaemonSet(ds)
}

// CreateCronJob defaults, validates and stores a CronJob.
func (s *Server) CreateCronJob(ctx context.Context, req *v1.CreateCronJobRequest) (*v1.CreateCronJobResponse, error) {
	o, err := createObj(s, "CreateCronJob", kindCronJob, req.GetCronJob(), req.GetDryRun(), admitCronJob)
	return &v1.CreateCronJobResponse{CronJob: o}, err
}

// GetCronJob returns a stored CronJob.
func (s *Server) GetCronJob(ctx context.Context, req *v1.GetCronJobRequest) (*v1.GetCronJobResponse, error) {
	o, err := getObj[*v1.CronJob](s, "GetCronJob", kindCronJob, req.GetNamespace(), req.GetName())
	return &v1.GetCronJobResponse{CronJob: o}, err
}

// ListCronJobs lists stored CronJobs.
func (s *Server) ListCronJobs(ctx context.Context, req *v1.ListCronJobsRequest) (*v1.ListCronJobsResponse, error) {
	items, meta, err := listObjs[*v1.CronJob](s, "ListCronJobs", kindCronJob, req.GetNamespace(), req.GetOptions())
	return &v1.ListCronJobsResponse{Items: items, Metadata: meta}, err
}

// UpdateCronJob replaces a CronJob's spec and metadata, checking
// resourceVersion.
func (s *Server) UpdateCronJob(ctx context.Context, req *v1.UpdateCronJobRequest) (*v1.UpdateCronJobResponse, error) {
	o, err := updateObj(s, "UpdateCronJob", kindCronJob, req.GetCronJob(), admitCronJob, func(old, upd *v1.CronJob) { upd.Status = old.GetStatus() })
	return &v1.UpdateCronJobResponse{CronJob: o}, err
}

// DeleteCronJob deletes a stored CronJob (and nothing else).
func (s *Server) DeleteCronJob(ctx context.Context, req *v1.DeleteCronJobRequest) (*v1.DeleteCronJobResponse, error) {
	o, err := deleteObj[*v1.CronJob](s, "DeleteCronJob", kindCronJob, req.GetNamespace(), req.GetName())
	return &v1.DeleteCronJobResponse{CronJob: o}, err
}

// WatchCronJobs streams CronJob changes.
func (s *Server) WatchCronJobs(req *v1.WatchCronJobsRequest, stream grpc.ServerStreamingServer[v1.WatchCronJobsResponse]) error {
	if err := s.enter("WatchCronJobs"); err != nil {
		return err
	}
	return s.watch(stream.Context(), kindCronJob, req.GetNamespace(), req.GetOptions(), func(typ string, o object) error {
		return stream.Send(&v1.WatchCronJobsResponse{Type: typ, Object: o.(*v1.CronJob)})
	})
}

// CreateDaemonSet defaults, validates and stores a DaemonSet.
func (s *Server) CreateDaemonSet(ctx context.Context, req *v1.CreateDaemonSetRequest) (*v1.CreateDaemonSetResponse, error) {
	o, err := createObj(s, "CreateDaemonSet", kindDaemonSet, req.GetDaemonSet(), req.GetDryRun(), admitDaemonSet)
	return &v1.CreateDaemonSetResponse{DaemonSet: o}, err
}

// GetDaemonSet returns a stored DaemonSet.
func (s *Server) GetDaemonSet(ctx context.Context, req *v1.GetDaemonSetRequest) (*v1.GetDaemonSetResponse, error) {
	o, err := getObj[*v1.DaemonSet](s, "GetDaemonSet", kindDaemonSet, req.GetNamespace(), req.GetName())
	return &v1.GetDaemonSetResponse{DaemonSet: o}, err
}

// ListDaemonSets lists stored DaemonSets.
func (s *Server) ListDaemonSets(ctx context.Context, req *v1.ListDaemonSetsRequest) (*v1.ListDaemonSetsResponse, error) {
	items, meta, err := listObjs[*v1.DaemonSet](s, "ListDaemonSets", kindDaemonSet, req.GetNamespace(), req.GetOptions())
	return &v1.ListDaemonSetsResponse{Items: items, Metadata: meta}, err
}

// UpdateDaemonSet replaces a DaemonSet's spec and metadata, checking
// resourceVersion.
func (s *Server) UpdateDaemonSet(ctx context.Context, req *v1.UpdateDaemonSetRequest) (*v1.UpdateDaemonSetResponse, error) {
	o, err := updateObj(s, "UpdateDaemonSet", kindDaemonSet, req.GetDaemonSet(), admitDaemonSet, func(old, upd *v1.DaemonSet) { upd.Status = old.GetStatus() })
	return &v1.UpdateDaemonSetResponse{DaemonSet: o}, err
}

// DeleteDaemonSet deletes a stored DaemonSet (and nothing else).
func (s *Server) DeleteDaemonSet(ctx context.Context, req *v1.DeleteDaemonSetRequest) (*v1.DeleteDaemonSetResponse, error) {
	o, err := deleteObj[*v1.DaemonSet](s, "DeleteDaemonSet", kindDaemonSet, req.GetNamespace(), req.GetName())
	return &v1.DeleteDaemonSetResponse{DaemonSet: o}, err
}

// WatchDaemonSets streams DaemonSet changes.
func (s *Server) WatchDaemonSets(req *v1.WatchDaemonSetsRequest, stream grpc.ServerStreamingServer[v1.WatchDaemonSetsResponse]) error {
	if err := s.enter("WatchDaemonSets"); err != nil {
		return err
	}
	return s.watch(stream.Context(), kindDaemonSet, req.GetNamespace(), req.GetOptions(), func(typ string, o object) error {
		return stream.Send(&v1.WatchDaemonSetsResponse{Type: typ, Object: o.(*v1.DaemonSet)})
	})
}
