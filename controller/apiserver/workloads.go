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
)

// workload is what the CronJob and DaemonSet handlers share: the kind's
// store accessor, its defaults and validation, and how to reach its spec
// and status.
type workload[T store.Object] struct {
	// name is the kind in messages ("cronjob").
	name     string
	kind     store.Kind[T]
	defaults func(T)
	validate func(T) error
	// spec returns the object's spec; setSpec replaces it; clearStatus
	// drops a client-sent status.
	spec        func(T) proto.Message
	setSpec     func(dst, src T)
	clearStatus func(T)
	// immutable, if set, refuses an update of old to in.
	immutable func(old, in T) error
	// owned lists the kind the object owns, for Orphan deletion.
	orphanOwned func(ctx context.Context, s *Server, namespace, uid string) error
}

// create defaults, validates and (unless dryRun) stores a new object.
func (w workload[T]) create(ctx context.Context, s *Server, in T, dryRun bool) (T, error) {
	var zero T
	if in.GetMetadata() == nil {
		return zero, invalid("metadata", "required")
	}
	obj := proto.Clone(in).(T)
	w.defaults(obj)
	md := obj.GetMetadata()
	if md.Name == "" && md.GenerateName != "" {
		md.Name = md.GenerateName + randomSuffix()
	}
	md.Uid = jobctl.NewUID()
	md.CreationTimestamp = timestamppb.New(s.clk.Now())
	md.ResourceVersion, md.DeletionTimestamp, md.Finalizers, md.Generation = "", nil, nil, 1
	w.clearStatus(obj)
	if err := w.validate(obj); err != nil {
		return zero, toStatus(err)
	}
	if dryRun {
		return obj, nil
	}
	if _, err := w.kind.Create(ctx, obj); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return zero, toStatus(fmt.Errorf("%s %q already exists in namespace %q: %w", w.name, md.Name, md.Namespace, store.ErrAlreadyExists))
		}
		return zero, toStatus(err)
	}
	return obj, nil
}

// get reads one object.
func (w workload[T]) get(ctx context.Context, namespace, name string) (T, error) {
	obj, err := w.kind.Get(ctx, ns(namespace), name)
	if errors.Is(err, store.ErrNotFound) {
		return obj, notFound(w.name, ns(namespace), name)
	}
	if err != nil {
		return obj, toStatus(err)
	}
	return obj, nil
}

// update replaces labels, annotations and spec, keeping status; a changed
// spec raises metadata.generation. A set resourceVersion must match; without
// one, a conflict with the controller's status write is merged again.
func (w workload[T]) update(ctx context.Context, in T) (T, error) {
	var zero T
	if in.GetMetadata().GetName() == "" {
		return zero, invalid("metadata.name", "required")
	}
	in = proto.Clone(in).(T)
	w.defaults(in)
	namespace, name, rv := in.GetMetadata().GetNamespace(), in.GetMetadata().GetName(), in.GetMetadata().GetResourceVersion()
	for {
		old, err := w.get(ctx, namespace, name)
		if err != nil {
			return zero, err
		}
		if rv != "" && rv != old.GetMetadata().GetResourceVersion() {
			return zero, conflict(w.name, name)
		}
		if old.GetMetadata().GetDeletionTimestamp() != nil {
			return zero, invalid("metadata.deletionTimestamp", "the object is being deleted")
		}
		if w.immutable != nil {
			if err := w.immutable(old, in); err != nil {
				return zero, err
			}
		}
		upd := proto.Clone(old).(T)
		upd.GetMetadata().Labels, upd.GetMetadata().Annotations = in.GetMetadata().GetLabels(), in.GetMetadata().GetAnnotations()
		w.setSpec(upd, in)
		if !proto.Equal(w.spec(upd), w.spec(old)) {
			upd.GetMetadata().Generation++
		}
		if err := w.validate(upd); err != nil {
			return zero, toStatus(err)
		}
		if proto.Equal(upd, old) {
			return old, nil
		}
		_, err = w.kind.Update(ctx, upd)
		if errors.Is(err, store.ErrConflict) {
			if rv != "" {
				return zero, conflict(w.name, name)
			}
			continue
		}
		if err != nil {
			return zero, toStatus(err)
		}
		return upd, nil
	}
}

// delete removes an object. Background and Foreground (the same here) leave
// what it owns to the garbage collector; Orphan first removes the owner
// reference from what it owns.
func (w workload[T]) delete(ctx context.Context, s *Server, namespace, name string, opts *v1.DeleteOptions) (T, error) {
	var zero T
	obj, err := w.get(ctx, namespace, name)
	if err != nil {
		return zero, err
	}
	if rv := opts.GetResourceVersion(); rv != "" && rv != obj.GetMetadata().GetResourceVersion() {
		return zero, conflict(w.name, name)
	}
	switch policy := opts.GetPropagationPolicy(); policy {
	case "", "Background", "Foreground":
	case "Orphan":
		if err := w.orphanOwned(ctx, s, ns(namespace), obj.GetMetadata().GetUid()); err != nil {
			return zero, toStatus(err)
		}
	default:
		return zero, invalid("options.propagationPolicy", fmt.Sprintf("unknown value %q: must be one of Background, Foreground, Orphan", policy))
	}
	if err := w.kind.Delete(ctx, ns(namespace), name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return zero, toStatus(err)
	}
	return obj, nil
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
