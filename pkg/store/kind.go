package store

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Kind is the typed accessor for one kind of object.
type Kind[T Object] struct {
	s          *Store
	prefix     string
	namespaced bool
	new        func() T
}

// Prefix is the key prefix of this kind in namespace ("" for all).
func (k Kind[T]) Prefix(namespace string) string {
	if !k.namespaced {
		return k.prefix
	}
	return namespacePrefix(k.prefix, namespace)
}

// Key is the key of one object.
func (k Kind[T]) Key(namespace, name string) string {
	if !k.namespaced {
		return k.prefix + name
	}
	return namespacedKey(k.prefix, namespace, name)
}

// Decode parses a stored key-value of this kind.
func (k Kind[T]) Decode(kv *mvccpb.KeyValue) (T, error) {
	obj := k.new()
	if err := decode(kv.Value, kv.ModRevision, obj); err != nil {
		return obj, fmt.Errorf("%s: %w", kv.Key, err)
	}
	return obj, nil
}

// Get reads one object, or returns ErrNotFound.
func (k Kind[T]) Get(ctx context.Context, namespace, name string) (T, error) {
	var zero T
	resp, err := k.s.cli.Get(ctx, k.Key(namespace, name))
	if err != nil {
		return zero, fmt.Errorf("store: get: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return zero, fmt.Errorf("%s %q: %w", k.prefix, name, ErrNotFound)
	}
	return k.Decode(resp.Kvs[0])
}

// List reads every object in namespace ("" for all) at one revision, which it
// returns, reading in pages so that a large list does not make one huge response.
func (k Kind[T]) List(ctx context.Context, namespace string) ([]T, int64, error) {
	var out []T
	var rev int64
	next := ""
	for {
		page, r, cont, err := k.ListPage(ctx, namespace, 2000, next, rev)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, page...)
		rev = r
		if cont == "" {
			return out, rev, nil
		}
		next = cont
	}
}

// ListPage reads at most limit objects (0: all) starting at the key after
// continueKey, at revision rev (0: the latest). It returns the objects, the
// revision read, and the continue key ("" when there are no more).
func (k Kind[T]) ListPage(ctx context.Context, namespace string, limit int64, continueKey string, rev int64) ([]T, int64, string, error) {
	prefix := k.Prefix(namespace)
	start := prefix
	if continueKey != "" {
		start = continueKey + "\x00"
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(limit))
	}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := k.s.cli.Get(ctx, start, opts...)
	if err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil, 0, "", ErrCompacted
		}
		return nil, 0, "", fmt.Errorf("store: list: %w", err)
	}
	out := make([]T, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		obj, err := k.Decode(kv)
		if err != nil {
			return nil, 0, "", err
		}
		out = append(out, obj)
	}
	cont := ""
	if resp.More && len(resp.Kvs) > 0 {
		cont = string(resp.Kvs[len(resp.Kvs)-1].Key)
	}
	// The header holds etcd's current revision, not the one read at: a
	// later page's would make a caller that lists and then watches from
	// the revision returned skip every write made while it listed.
	read := resp.Header.Revision
	if rev > 0 {
		read = rev
	}
	return out, read, cont, nil
}

// Create stores a new object; ErrAlreadyExists if its key is taken.
func (k Kind[T]) Create(ctx context.Context, obj T) (T, error) {
	_, err := k.s.Txn().Create(obj).Commit(ctx)
	if errors.Is(err, ErrConflict) {
		return obj, fmt.Errorf("%s %q: %w", k.prefix, obj.GetMetadata().GetName(), ErrAlreadyExists)
	}
	return obj, err
}

// Update replaces an object if it has not changed since obj was read
// (ErrConflict otherwise, ErrNotFound if it is gone).
func (k Kind[T]) Update(ctx context.Context, obj T) (T, error) {
	_, err := k.s.Txn().Update(obj).Commit(ctx)
	if errors.Is(err, ErrConflict) {
		md := obj.GetMetadata()
		if _, gerr := k.Get(ctx, md.GetNamespace(), md.GetName()); errors.Is(gerr, ErrNotFound) {
			return obj, gerr
		}
	}
	return obj, err
}

// Delete removes an object; with rev > 0 only if its mod revision is rev.
func (k Kind[T]) Delete(ctx context.Context, namespace, name string, rev int64) error {
	key := k.Key(namespace, name)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), ">", 0)}
	if rev > 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	}
	t := k.s.Txn().If(cmps...)
	t.ops = append(t.ops, clientv3.OpDelete(key))
	_, err := t.Commit(ctx)
	if errors.Is(err, ErrConflict) {
		if _, gerr := k.Get(ctx, namespace, name); errors.Is(gerr, ErrNotFound) {
			return gerr
		}
	}
	return err
}

// Mutate reads an object, applies fn and writes it back, retrying on
// conflict. fn may be called more than once and must not keep obj.
func (k Kind[T]) Mutate(ctx context.Context, namespace, name string, fn func(T) error) (T, error) {
	for {
		obj, err := k.Get(ctx, namespace, name)
		if err != nil {
			return obj, err
		}
		if err := fn(obj); err != nil {
			return obj, err
		}
		obj, err = k.Update(ctx, obj)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return obj, err
	}
}

// EventType is the kind of change a watch reports.
type EventType string

// Watch event types, named as in Kubernetes.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// WatchEvent is one change. Deleted events carry the object as it was last.
type WatchEvent[T Object] struct {
	Type     EventType
	Object   T
	Revision int64
}

// Watch streams changes to this kind in namespace after revision fromRev
// (0: from now). The channel closes when ctx ends or the watch fails; the
// returned error function then says why (nil after ctx ended, ErrCompacted
// when fromRev is no longer available).
func (k Kind[T]) Watch(ctx context.Context, namespace string, fromRev int64) (<-chan WatchEvent[T], func() error) {
	out := make(chan WatchEvent[T], 64)
	var werr error
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}
	if fromRev > 0 {
		opts = append(opts, clientv3.WithRev(fromRev+1))
	}
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := k.s.cli.Watch(ctx, k.Prefix(namespace), opts...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		defer cancel()
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if resp.CompactRevision > 0 {
					werr = ErrCompacted
				} else {
					werr = fmt.Errorf("store: watch: %w", err)
				}
				return
			}
			for _, ev := range resp.Events {
				we, err := k.toEvent(ev)
				if err != nil {
					continue // a value we cannot read is skipped, never fatal
				}
				select {
				case out <- we:
				case <-ctx.Done():
					return
				}
			}
		}
		if ctx.Err() == nil {
			werr = fmt.Errorf("store: watch closed")
		}
	}()
	return out, func() error { <-done; return werr }
}

func (k Kind[T]) toEvent(ev *clientv3.Event) (WatchEvent[T], error) {
	if ev.Type == clientv3.EventTypeDelete {
		if ev.PrevKv == nil {
			return WatchEvent[T]{}, fmt.Errorf("store: delete without previous value")
		}
		obj, err := k.Decode(ev.PrevKv)
		if err != nil {
			return WatchEvent[T]{}, err
		}
		obj.GetMetadata().ResourceVersion = fmt.Sprint(ev.Kv.ModRevision)
		return WatchEvent[T]{Type: Deleted, Object: obj, Revision: ev.Kv.ModRevision}, nil
	}
	obj, err := k.Decode(ev.Kv)
	if err != nil {
		return WatchEvent[T]{}, err
	}
	t := Modified
	if ev.IsCreate() {
		t = Added
	}
	return WatchEvent[T]{Type: t, Object: obj, Revision: ev.Kv.ModRevision}, nil
}
