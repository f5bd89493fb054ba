package client

import (
	"context"
	"sync"
	"time"
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

// WatchEvent is one change. For Deleted, Object is the last state.
type WatchEvent[T any] struct {
	Type   EventType
	Object T
}

// recvFunc reads the next event of one open stream.
type recvFunc[T any] func() (string, T, error)

// openFunc opens a stream.
type openFunc[T any] func(ctx context.Context) (recvFunc[T], error)

// Watcher reads a stream of changes. It is not safe for concurrent Recv
// calls; Close may be called from any goroutine.
type Watcher[T any] struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	open   openFunc[T]
	recv   recvFunc[T]
	seen   bool
	once   sync.Once
}

// watch opens a stream, retrying while the server is unavailable.
func watch[T any](ctx context.Context, c *Client, open openFunc[T]) (*Watcher[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher[T]{c: c, ctx: ctx, cancel: cancel, open: open}
	if err := w.reopen(); err != nil {
		cancel()
		return nil, err
	}
	return w, nil
}

func (w *Watcher[T]) reopen() error {
	return w.c.retry(w.ctx, func(ctx context.Context) (err error) {
		w.recv, err = w.open(ctx)
		return err
	})
}

// Recv blocks until the next change and returns it. It returns io.EOF when
// the server ended the stream, and an error when the stream broke or ctx
// (given to Watch) ended or Close was called; the watcher is then done, and
// the caller lists again and watches from the list's resource version (or
// from the last event's). While no event has arrived yet, a stream that
// fails with Unavailable is reopened transparently, with backoff.
func (w *Watcher[T]) Recv() (WatchEvent[T], error) {
	delay := w.c.opts.retryBase
	for attempt := 1; ; attempt++ {
		typ, obj, err := w.recv()
		if err == nil {
			w.seen = true
			return WatchEvent[T]{Type: EventType(typ), Object: obj}, nil
		}
		err = wrap(err)
		if w.seen || !IsUnavailable(err) || attempt >= w.c.opts.maxAttempts || w.ctx.Err() != nil {
			return WatchEvent[T]{}, err
		}
		t := time.NewTimer(delay)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return WatchEvent[T]{}, err
		case <-t.C:
		}
		delay = min(delay*2, w.c.opts.retryMax)
		if err := w.reopen(); err != nil {
			return WatchEvent[T]{}, err
		}
	}
}

// Close ends the stream; a blocked Recv returns an error.
func (w *Watcher[T]) Close() { w.once.Do(w.cancel) }
