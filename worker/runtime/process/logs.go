package process

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// tailOffset returns the offset in f where its last n lines begin. A last
// line without a newline counts as a line.
func tailOffset(f *os.File, n int64) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := fi.Size()
	if end == 0 {
		return 0, nil
	}
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	pos := end
	// The final newline ends the last line; it does not start another.
	var last [1]byte
	if _, err := f.ReadAt(last[:], end-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		pos = end - 1
	}
	for pos > 0 {
		size := min(int64(chunk), pos)
		pos -= size
		b := buf[:size]
		if _, err := f.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			n--
			if n == 0 {
				return pos + int64(i) + 1, nil
			}
		}
	}
	return 0, nil
}

// follower reads a log file that is still being written: at its end it
// waits for more until the container has exited and the file is drained.
type follower struct {
	ctx    context.Context
	f      *os.File
	exited func() bool
	closed chan struct{}
	once   sync.Once
	// last is set once the container was seen exited: one more pass to
	// the end of the file, then io.EOF.
	last bool
}

func newFollower(ctx context.Context, f *os.File, exited func() bool) *follower {
	return &follower{ctx: ctx, f: f, exited: exited, closed: make(chan struct{})}
}

func (r *follower) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if r.last {
			return 0, io.EOF
		}
		if r.exited() {
			r.last = true
			continue
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return 0, r.ctx.Err()
		case <-r.closed:
			t.Stop()
			return 0, os.ErrClosed
		case <-t.C:
		}
	}
}

func (r *follower) Close() error {
	r.once.Do(func() { close(r.closed) })
	return r.f.Close()
}
