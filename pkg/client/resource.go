package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// rpcs are the API calls of one kind of object; a kind without a verb
// leaves it nil. The typed clients (JobClient ...) are thin, documented
// wrappers over a resource built from them.
type rpcs[T Object] struct {
	// name is the kind in messages ("job").
	name       string
	namespaced bool
	create     func(ctx context.Context, obj T, dryRun bool) (T, error)
	get        func(ctx context.Context, ns, name string) (T, error)
	list       func(ctx context.Context, ns string, o *v1.ListOptions) ([]T, *v1.ListMeta, error)
	update     func(ctx context.Context, obj T) (T, error)
	delete     func(ctx context.Context, ns, name string, o *v1.DeleteOptions) (T, error)
	watch      func(ctx context.Context, ns string, o *v1.ListOptions) (recvFunc[T], error)
}

// resource is one kind in one namespace ("" for every namespace in List
// and Watch, "default" for single-object calls).
type resource[T Object] struct {
	c   *Client
	ns  string
	rpc rpcs[T]
}

// objectNS is the namespace of single-object calls.
func (r resource[T]) objectNS() string {
	if !r.rpc.namespaced {
		return ""
	}
	return orDefault(r.ns)
}

// prepare copies obj for sending, with metadata and a namespace.
func (r resource[T]) prepare(obj T, strict bool) (T, error) {
	obj = proto.Clone(obj).(T)
	if obj.GetMetadata() == nil {
		m := obj.ProtoReflect()
		m.Set(m.Descriptor().Fields().ByName("metadata"), protoreflect.ValueOfMessage((&v1.ObjectMeta{}).ProtoReflect()))
	}
	if !r.rpc.namespaced {
		return obj, nil
	}
	md := obj.GetMetadata()
	switch {
	case md.Namespace == "":
		md.Namespace = orDefault(r.ns)
	case strict && r.ns != "" && md.Namespace != r.ns:
		var zero T
		return zero, fmt.Errorf("client: %s namespace %q does not match the client's %q", r.rpc.name, md.Namespace, r.ns)
	}
	return obj, nil
}

func (r resource[T]) create(ctx context.Context, obj T, opts []CreateOption) (T, error) {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	obj, err := r.prepare(obj, true)
	if err != nil {
		return obj, err
	}
	out, err := r.rpc.create(ctx, obj, o.dryRun)
	return out, wrap(err)
}

func (r resource[T]) get(ctx context.Context, name string) (T, error) {
	var out T
	if name == "" {
		return out, errNoName
	}
	err := r.c.retry(ctx, func(ctx context.Context) (err error) {
		out, err = r.rpc.get(ctx, r.objectNS(), name)
		return err
	})
	return out, err
}

func (r resource[T]) list(ctx context.Context, opts ListOptions) (*List[T], error) {
	return list(ctx, r.c, opts, func(ctx context.Context, o *v1.ListOptions) ([]T, *v1.ListMeta, error) {
		return r.rpc.list(ctx, r.ns, o)
	})
}

func (r resource[T]) update(ctx context.Context, obj T) (T, error) {
	obj, err := r.prepare(obj, false)
	if err != nil {
		return obj, err
	}
	out, err := r.rpc.update(ctx, obj)
	return out, wrap(err)
}

func (r resource[T]) delete(ctx context.Context, name string, opts DeleteOptions) (T, error) {
	var out T
	if name == "" {
		return out, errNoName
	}
	err := r.c.retry(ctx, func(ctx context.Context) (err error) {
		out, err = r.rpc.delete(ctx, r.objectNS(), name, opts.proto())
		return err
	})
	return out, err
}

func (r resource[T]) watch(ctx context.Context, opts ListOptions) (*Watcher[T], error) {
	return watch(ctx, r.c, opts, r.list, func(ctx context.Context, o *v1.ListOptions) (recvFunc[T], error) {
		return r.rpc.watch(ctx, r.ns, o)
	})
}

// watchEvent is a generated WatchXResponse.
type watchEvent[T Object] interface {
	GetType() string
	GetObject() T
}

// recvOf adapts a generated watch stream's Recv.
func recvOf[T Object, M watchEvent[T]](s interface{ Recv() (M, error) }, err error) (recvFunc[T], error) {
	if err != nil {
		return nil, err
	}
	return func() (string, T, error) {
		m, err := s.Recv()
		if err != nil {
			var zero T
			return "", zero, err
		}
		return m.GetType(), m.GetObject(), nil
	}, nil
}
