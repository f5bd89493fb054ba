package client

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// EventType is the kind of change a watch reports.
type EventType string

// Watch event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
)

// Object is what the SDK reads and writes: every API object (*v1.Job,
// *v1.Pod, *v1.Node, *v1.Event ...) has metadata.
type Object interface {
	proto.Message
	GetMetadata() *v1.ObjectMeta
}

// WatchEvent is one change. For Deleted, Object is the last state, with
// metadata.resourceVersion set to the revision of the deletion.
type WatchEvent[T Object] struct {
	// Type says what happened: Added, Modified, Deleted (or Bookmark).
	Type EventType
	// Object is the object after the change (before it, for Deleted).
	Object T
}

// recvFunc reads the next event of one open stream.
type recvFunc[T Object] func() (string, T, error)

// openFunc opens a stream with the given options.
type openFunc[T Object] func(ctx context.Context, opts *v1.ListOptions) (recvFunc[T], error)

// listFunc lists the watched objects, every page.
type listFunc[T Object] func(ctx context.Context, opts ListOptions) (*List[T], error)

// Watcher reads a stream of changes to one kind of object. It remembers the
// revision of the last change it returned: when the stream breaks (the
// replica it was reading from stopped or restarted, the connection failed)
// Recv opens it again from that revision, on the same or another address,
// so the caller sees every change once, in order, without a gap or a
// duplicate. It is not safe for concurrent Recv calls; Close may be called
// from any goroutine.
type Watcher[T Object] struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	opts   ListOptions
	open   openFunc[T]
	recv   recvFunc[T]
	// pending are the objects of the initial list, returned as Added first.
	pending []T
	// rev is the revision of the last change returned (or of the initial
	// list); atRev holds the keys returned at exactly rev, because one
	// store transaction can change several objects at one revision.
	rev   int64
	atRev map[string]bool
	once  sync.Once
}

// watch starts a Watcher. Without opts.ResourceVersion it lists first (the
// objects become Added events) and watches from the list's revision, so
// that a resumed stream knows where it stands from the start.
func watch[T Object](ctx context.Context, c *Client, opts ListOptions, list listFunc[T], open openFunc[T]) (*Watcher[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher[T]{c: c, ctx: ctx, cancel: cancel, opts: opts, open: open, atRev: map[string]bool{}}
	if opts.ResourceVersion == "" {
		l, err := list(ctx, ListOptions{LabelSelector: opts.LabelSelector})
		if err != nil {
			cancel()
			return nil, err
		}
		w.pending = l.Items
		if w.rev, err = strconv.ParseInt(l.ResourceVersion, 10, 64); err != nil {
			cancel()
			return nil, &APIError{code: codes.Internal, msg: "client: the server listed at a malformed resourceVersion " + strconv.Quote(l.ResourceVersion)}
		}
	} else {
		rev, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil || rev < 0 {
			cancel()
			return nil, &APIError{code: codes.InvalidArgument, msg: "client: resourceVersion " + strconv.Quote(opts.ResourceVersion) + " is not a revision number"}
		}
		w.rev = rev
	}
	if err := c.retry(ctx, w.reopen); err != nil {
		cancel()
		return nil, err
	}
	return w, nil
}

// reopen opens the stream after w.rev; when changes at w.rev itself were
// already returned it asks from w.rev (inclusive) and Recv skips those.
func (w *Watcher[T]) reopen(ctx context.Context) error {
	po := w.opts.proto()
	from := w.rev
	if len(w.atRev) > 0 {
		from--
	}
	po.ResourceVersion = strconv.FormatInt(from, 10)
	recv, err := w.open(ctx, po)
	if err != nil {
		return err
	}
	w.recv = recv
	return nil
}

// Recv blocks until the next change and returns it. When the stream
// breaks (Unavailable, or the server ended it) Recv reopens it from the
// last revision it returned, with backoff, for as long as it takes: it
// blocks across a controller restart and returns no duplicate. When the
// server ends the stream because this client fell too far behind
// (ResourceExhausted, reason WATCH_TOO_FAR_BEHIND: the caller read slower
// than changes came), Recv reopens it at once from the last revision it
// returned, so the caller still sees every change. It returns
// an error, and the watcher is done, when ctx (given to Watch) ends or Close
// is called (context.Canceled), when the revision to resume from has been
// compacted (ErrGone: list again and watch from the list's resource
// version), or on any other error the server returns.
func (w *Watcher[T]) Recv() (WatchEvent[T], error) {
	if len(w.pending) > 0 {
		obj := w.pending[0]
		w.pending = w.pending[1:]
		return WatchEvent[T]{Type: Added, Object: obj}, nil
	}
	delay := w.c.opts.retryBase
	for {
		if err := w.ctx.Err(); err != nil {
			return WatchEvent[T]{}, err
		}
		if w.recv == nil {
			if err := w.c.retry(w.ctx, w.reopen); err != nil {
				if !IsUnavailable(err) || w.ctx.Err() != nil {
					return WatchEvent[T]{}, err
				}
				// still down: keep waiting below
			}
		}
		if w.recv != nil {
			typ, obj, err := w.recv()
			if err == nil {
				if ev, ok := w.accept(EventType(typ), obj); ok {
					return ev, nil
				}
				continue
			}
			err = wrap(err)
			w.recv = nil
			if w.ctx.Err() != nil {
				return WatchEvent[T]{}, w.ctx.Err()
			}
			if isWatchBehind(err) {
				// The server ended the stream because this client fell
				// too far behind (SPEC B1): open it again at once from
				// the last change returned; history fills the gap.
				continue
			}
			if !errors.Is(err, io.EOF) && !IsUnavailable(err) {
				return WatchEvent[T]{}, err
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return WatchEvent[T]{}, w.ctx.Err()
		case <-t.C:
		}
		delay = min(delay*2, w.c.opts.retryMax)
	}
}

// accept records an event's revision and reports whether it is new.
func (w *Watcher[T]) accept(typ EventType, obj T) (WatchEvent[T], bool) {
	md := obj.GetMetadata()
	rev, err := strconv.ParseInt(md.GetResourceVersion(), 10, 64)
	if err != nil {
		// Not a revision we can resume from: pass it on unchanged.
		return WatchEvent[T]{Type: typ, Object: obj}, true
	}
	if typ == Bookmark {
		if rev > w.rev {
			w.rev, w.atRev = rev, map[string]bool{}
		}
		return WatchEvent[T]{Type: typ, Object: obj}, true
	}
	key := md.GetNamespace() + "/" + md.GetName()
	switch {
	case rev < w.rev, rev == w.rev && w.atRev[key]:
		return WatchEvent[T]{}, false // replayed by a resumed stream
	case rev > w.rev:
		w.rev, w.atRev = rev, map[string]bool{}
	}
	w.atRev[key] = true
	return WatchEvent[T]{Type: typ, Object: obj}, true
}

// ResourceVersion is the revision of the last change Recv returned (or of
// the initial list): watching from it later sees every change after.
func (w *Watcher[T]) ResourceVersion() string { return strconv.FormatInt(w.rev, 10) }

// Close ends the stream; a blocked Recv returns context.Canceled.
func (w *Watcher[T]) Close() { w.once.Do(w.cancel) }
