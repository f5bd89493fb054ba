package apiserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/controller/gc"
	jobctl "github.com/drover-dev/drover/controller/job"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/validation"
)

// CreateJob defaults, validates and stores a new Job (SPEC O4, J14).
func (s *Server) CreateJob(ctx context.Context, req *v1.CreateJobRequest) (*v1.CreateJobResponse, error) {
	if req.GetJob() == nil {
		return nil, invalid("job", "required")
	}
	job := proto.Clone(req.GetJob()).(*v1.Job)
	validation.DefaultJob(job)
	md := job.Metadata
	if md.Name == "" && md.GenerateName != "" {
		md.Name = md.GenerateName + randomSuffix()
	}
	md.Uid = jobctl.NewUID()
	md.CreationTimestamp = timestamppb.New(s.clk.Now())
	md.ResourceVersion, md.DeletionTimestamp, md.Finalizers, md.Generation = "", nil, nil, 1
	job.Status = nil
	if err := generateSelector(job); err != nil {
		return nil, err
	}
	if err := validation.ValidateJob(job); err != nil {
		return nil, toStatus(err)
	}
	if err := s.checkDependencyCycle(ctx, job); err != nil {
		return nil, err // SPEC J18: the Job closing a cycle is refused
	}
	if req.GetDryRun() {
		return &v1.CreateJobResponse{Job: job}, nil
	}
	if _, err := s.st.Jobs().Create(ctx, job); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, toStatus(fmt.Errorf("job %q already exists in namespace %q: %w", md.Name, md.Namespace, store.ErrAlreadyExists))
		}
		return nil, toStatus(err)
	}
	return &v1.CreateJobResponse{Job: job}, nil
}

// generateSelector gives a Job the selector and template labels that tie its
// pods to it (SPEC J1, J14), unless it asks for a manual selector.
func generateSelector(job *v1.Job) error {
	spec := job.Spec
	if spec.GetManualSelector() {
		return nil
	}
	if spec.Selector != nil {
		return invalid("spec.selector", "`selector` will be auto-generated; set spec.manualSelector: true to choose it yourself")
	}
	uid, name := job.Metadata.Uid, job.Metadata.Name
	spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{jobctl.LabelControllerUID: uid}}
	if spec.Template == nil {
		spec.Template = &v1.PodTemplateSpec{}
	}
	if spec.Template.Metadata == nil {
		spec.Template.Metadata = &v1.ObjectMeta{}
	}
	tl := spec.Template.Metadata.Labels
	if tl == nil {
		tl = map[string]string{}
		spec.Template.Metadata.Labels = tl
	}
	tl[jobctl.LabelControllerUID] = uid
	tl[jobctl.LabelBatchControllerID] = uid
	tl[jobctl.LabelJobName] = name
	tl[jobctl.LabelBatchJobName] = name
	return nil
}

// GetJob returns one Job.
func (s *Server) GetJob(ctx context.Context, req *v1.GetJobRequest) (*v1.GetJobResponse, error) {
	j, err := s.st.Jobs().Get(ctx, ns(req.GetNamespace()), req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("job", ns(req.GetNamespace()), req.GetName())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &v1.GetJobResponse{Job: j}, nil
}

// ListJobs lists Jobs.
func (s *Server) ListJobs(ctx context.Context, req *v1.ListJobsRequest) (*v1.ListJobsResponse, error) {
	items, meta, err := listPage(ctx, s.st.Jobs(), req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	return &v1.ListJobsResponse{Items: items, Metadata: meta}, nil
}

// WatchJobs streams Job changes.
func (s *Server) WatchJobs(req *v1.WatchJobsRequest, srv v1.DroverService_WatchJobsServer) error {
	return watchKind(s, srv, s.st.Jobs(), req.GetNamespace(), req.GetOptions(), func(typ string, j *v1.Job) proto.Message {
		return &v1.WatchJobsResponse{Type: typ, Object: j}
	})
}

// UpdateJob changes the mutable parts of a Job: labels, annotations,
// parallelism, completions, backoffLimit, activeDeadlineSeconds, suspend and
// ttlSecondsAfterFinished. The template, selector and completion mode are
// immutable. A set metadata.resourceVersion must match the stored one.
func (s *Server) UpdateJob(ctx context.Context, req *v1.UpdateJobRequest) (*v1.UpdateJobResponse, error) {
	in := req.GetJob()
	if in.GetMetadata().GetName() == "" {
		return nil, invalid("metadata.name", "required")
	}
	in = proto.Clone(in).(*v1.Job)
	validation.DefaultJob(in)
	namespace, name := in.Metadata.Namespace, in.Metadata.Name
	for {
		old, err := s.st.Jobs().Get(ctx, namespace, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("job", namespace, name)
		}
		if err != nil {
			return nil, toStatus(err)
		}
		if rv := in.Metadata.ResourceVersion; rv != "" && rv != old.Metadata.ResourceVersion {
			return nil, conflict("job", name)
		}
		if old.Metadata.DeletionTimestamp != nil {
			return nil, invalid("metadata.deletionTimestamp", "the Job is being deleted")
		}
		in.Metadata.Uid = old.Metadata.Uid
		if !in.Spec.GetManualSelector() && in.Spec.Selector == nil {
			if err := generateSelector(in); err != nil {
				return nil, err
			}
		}
		upd := proto.Clone(old).(*v1.Job)
		var errs validation.ErrorList
		immutable := func(field string, a, b proto.Message) {
			if !proto.Equal(a, b) {
				errs = append(errs, validation.FieldError{Field: field, Detail: "field is immutable"})
			}
		}
		immutable("spec.template", in.Spec.Template, old.Spec.Template)
		immutable("spec.selector", in.Spec.Selector, old.Spec.Selector)
		if in.Spec.CompletionMode != old.Spec.CompletionMode {
			errs = append(errs, validation.FieldError{Field: "spec.completionMode", Detail: "field is immutable"})
		}
		if len(errs) > 0 {
			return nil, errs.GRPCStatus().Err()
		}
		upd.Metadata.Labels, upd.Metadata.Annotations = in.Metadata.Labels, in.Metadata.Annotations
		us, is := upd.Spec, in.Spec
		us.Parallelism, us.Completions, us.BackoffLimit = is.Parallelism, is.Completions, is.BackoffLimit
		us.ActiveDeadlineSeconds, us.Suspend, us.TtlSecondsAfterFinished = is.ActiveDeadlineSeconds, is.Suspend, is.TtlSecondsAfterFinished
		if !proto.Equal(upd.Spec, old.Spec) {
			upd.Metadata.Generation++
		}
		if err := validation.ValidateJob(upd); err != nil {
			return nil, toStatus(err)
		}
		if proto.Equal(upd, old) {
			return &v1.UpdateJobResponse{Job: old}, nil
		}
		_, err = s.st.Jobs().Update(ctx, upd)
		if errors.Is(err, store.ErrConflict) {
			if in.Metadata.ResourceVersion != "" {
				return nil, conflict("job", name)
			}
			continue // the controller wrote status meanwhile; merge again
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return &v1.UpdateJobResponse{Job: upd}, nil
	}
}

// DeleteJob deletes a Job and, by policy, its pods (SPEC J12): Background
// (default) deletes the Job now and its pods after; Foreground deletes the
// pods first and the Job last; Orphan leaves the pods running, unowned.
func (s *Server) DeleteJob(ctx context.Context, req *v1.DeleteJobRequest) (*v1.DeleteJobResponse, error) {
	namespace, name := ns(req.GetNamespace()), req.GetName()
	j, err := s.st.Jobs().Get(ctx, namespace, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("job", namespace, name)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	if rv := req.GetOptions().GetResourceVersion(); rv != "" && rv != j.Metadata.ResourceVersion {
		return nil, conflict("job", name)
	}
	switch policy := req.GetOptions().GetPropagationPolicy(); policy {
	case "", "Background":
		err = s.st.Jobs().Delete(ctx, namespace, name, 0)
	case "Foreground":
		_, err = s.st.Jobs().Mutate(ctx, namespace, name, func(j *v1.Job) error {
			if j.Metadata.DeletionTimestamp == nil {
				j.Metadata.DeletionTimestamp = timestamppb.New(s.clk.Now())
				j.Metadata.Finalizers = append(j.Metadata.Finalizers, gc.FinalizerForeground)
			}
			return nil
		})
	case "Orphan":
		err = s.orphanPods(ctx, j)
	default:
		return nil, invalid("options.propagationPolicy", fmt.Sprintf("unknown value %q: must be one of Background, Foreground, Orphan", policy))
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, toStatus(err)
	}
	return &v1.DeleteJobResponse{Job: j}, nil
}

// orphanPods removes the Job's owner reference and tracking finalizer from
// its pods, so they outlive it, and deletes the Job (SPEC J12, J14). The
// last batch of pods is orphaned in the same transaction that deletes the
// Job, guarded by the Job's revision, so a Job never sees its own pods as
// orphans to adopt back while it still exists (in the common case of at
// most 127 pods, that is the only transaction).
func (s *Server) orphanPods(ctx context.Context, j *v1.Job) error {
	for {
		pods, _, err := s.st.Pods().List(ctx, j.Metadata.Namespace)
		if err != nil {
			return err
		}
		var owned []*v1.Pod
		for _, p := range pods {
			if ownedBy(p, j.Metadata.Uid) {
				owned = append(owned, p)
			}
		}
		last := len(owned) < store.MaxTxnOps
		tx := s.st.Txn()
		for _, p := range owned[:min(len(owned), store.MaxTxnOps-1)] {
			var refs []*v1.OwnerReference
			for _, r := range p.Metadata.OwnerReferences {
				if r.Uid != j.Metadata.Uid {
					refs = append(refs, r)
				}
			}
			p.Metadata.OwnerReferences = refs
			var fins []string
			for _, f := range p.Metadata.Finalizers {
				if f != jobctl.FinalizerTracking {
					fins = append(fins, f)
				}
			}
			p.Metadata.Finalizers = fins
			tx.Update(p)
		}
		if last {
			tx.Delete(j)
		}
		_, err = tx.Commit(ctx)
		switch {
		case err == nil && last:
			return nil
		case err == nil:
		case errors.Is(err, store.ErrConflict):
			// A pod or the Job changed (the controller wrote status):
			// read the Job again and retry.
			if j, err = s.st.Jobs().Get(ctx, j.Metadata.Namespace, j.Metadata.Name); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

func ownedBy(p *v1.Pod, uid string) bool {
	for _, r := range p.GetMetadata().GetOwnerReferences() {
		if r.GetUid() == uid {
			return true
		}
	}
	return false
}

// ns defaults an empty namespace.
func ns(n string) string {
	if n == "" {
		return validation.DefaultNamespace
	}
	return n
}

func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return sb.String()
}
