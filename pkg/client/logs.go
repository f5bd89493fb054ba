package client

import (
	"context"
	"errors"
	"io"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// LogOptions chooses what PodLogs reads.
type LogOptions struct {
	// Container names the container; empty means the pod's only one.
	Container string
	// Follow keeps streaming until the container exits (or ctx ends).
	Follow bool
	// TailLines, when > 0, starts that many lines before the end.
	TailLines int64
}

// PodLogs copies a pod's output (stdout and stderr as the worker kept it,
// SPEC P3) to w and returns when the stream ends: at once for what exists,
// or when the container exits with Follow. Cancelling ctx ends it with
// ctx's error. Opening the stream is retried on Unavailable as long as
// nothing has been written to w yet; an error from w ends the stream.
func (c *Client) PodLogs(ctx context.Context, ns, name string, opts LogOptions, w io.Writer) error {
	if name == "" {
		return errNoName
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := &v1.PodLogsRequest{
		Namespace: orDefault(ns), Name: name,
		Container: opts.Container, Follow: opts.Follow, TailLines: opts.TailLines,
	}
	delay := c.opts.retryBase
	for attempt := 1; ; attempt++ {
		wrote, err := c.copyLogs(ctx, req, w)
		if err == nil || wrote || !IsUnavailable(err) || attempt >= c.opts.maxAttempts {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(delay*2, c.opts.retryMax)
	}
}

func (c *Client) copyLogs(ctx context.Context, req *v1.PodLogsRequest, w io.Writer) (wrote bool, err error) {
	s, err := c.api.PodLogs(ctx, req)
	if err != nil {
		return false, wrap(err)
	}
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			// A deadline reaches the server too, which may end a followed
			// stream cleanly a moment before the client's own context
			// ends: report the deadline, not a clean end.
			if dl, ok := ctx.Deadline(); ok && req.GetFollow() && time.Until(dl) < 100*time.Millisecond {
				<-ctx.Done()
			}
			return wrote, ctx.Err()
		}
		if err != nil {
			return wrote, wrap(err)
		}
		if len(m.GetData()) == 0 {
			continue
		}
		wrote = true
		if _, err := w.Write(m.GetData()); err != nil {
			return wrote, err
		}
	}
}
