package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// logPart is an open file of a container's log and its size when opened.
type logPart struct {
	f    *os.File
	size int64
}

// snapshotRetries bounds how often openParts starts over because the log
// rotated while it opened the files.
const snapshotRetries = 5

// openParts opens every file of the log in dir, oldest first, the current
// `log` last. Open files are not lost to a rotation, so the parts stay
// readable while the shim rotates on. ErrNotExist if there is no log.
func openParts(dir string) ([]logPart, error) {
	for attempt := 0; ; attempt++ {
		parts, rotatedMeanwhile, err := tryOpenParts(dir)
		if err != nil || !rotatedMeanwhile || attempt == snapshotRetries {
			// After the retries (a log rotating faster than it can be
			// opened), a file may be missing from the middle.
			return parts, err
		}
		closeParts(parts)
	}
}

func tryOpenParts(dir string) (parts []logPart, rotatedMeanwhile bool, err error) {
	rot, err := listRotated(dir)
	if err != nil {
		return nil, false, err
	}
	add := func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		parts = append(parts, logPart{f: f, size: fi.Size()})
		return nil
	}
	for _, r := range rot {
		// A file dropped meanwhile is just older output gone.
		if err := add(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			closeParts(parts)
			return nil, false, err
		}
	}
	if err := add(filepath.Join(dir, logFile)); err != nil {
		closeParts(parts)
		return nil, false, err
	}
	// A rotation links `log` under a new highest seq before replacing it:
	// without a new seq, the `log` opened follows the last rotated file.
	again, err := listRotated(dir)
	if err != nil {
		closeParts(parts)
		return nil, false, err
	}
	return parts, newestSeq(again) != newestSeq(rot), nil
}

func newestSeq(rot []rotatedLog) int64 {
	if len(rot) == 0 {
		return 0
	}
	return rot[len(rot)-1].seq
}

func closeParts(parts []logPart) {
	for _, p := range parts {
		p.f.Close()
	}
}

// openLog opens the log of the container directory dir: all of it, oldest
// first, or its last tail lines when tail > 0. Without follow the reader ends
// at what the log held when opened; with follow it reads on, across
// rotations, until exited reports the container exited and the log is
// drained.
func openLog(ctx context.Context, dir string, follow bool, tail int64, exited func() bool) (io.ReadCloser, error) {
	parts, err := openParts(dir)
	if err != nil {
		return nil, err
	}
	first, off := 0, int64(0)
	if tail > 0 {
		if first, off, err = tailStart(parts, tail); err != nil {
			closeParts(parts)
			return nil, err
		}
	}
	for _, p := range parts[:first] {
		p.f.Close()
	}
	parts = parts[first:]
	if !follow {
		rs := make([]io.Reader, len(parts))
		for i, p := range parts {
			start := int64(0)
			if i == 0 {
				start = off
			}
			rs[i] = io.NewSectionReader(p.f, start, p.size-start)
		}
		return &snapshotReader{Reader: io.MultiReader(rs...), parts: parts}, nil
	}
	if _, err := parts[0].f.Seek(off, io.SeekStart); err != nil {
		closeParts(parts)
		return nil, err
	}
	files := make([]*os.File, len(parts))
	for i, p := range parts {
		files[i] = p.f
	}
	return newFollower(ctx, dir, files, exited), nil
}

// snapshotReader reads the parts of a log as they were when opened.
type snapshotReader struct {
	io.Reader
	parts []logPart
}

func (r *snapshotReader) Close() error {
	closeParts(r.parts)
	return nil
}

// tailStart returns where the last n lines of the log made of parts begin:
// the index of the part and the offset in it. A last line without a newline
// counts as a line; a line may span parts.
func tailStart(parts []logPart, n int64) (int, int64, error) {
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	// The log's final newline ends the last line; it does not start another.
	atEnd := true
	for i := len(parts) - 1; i >= 0; i-- {
		pos := parts[i].size
		for pos > 0 {
			size := min(int64(chunk), pos)
			pos -= size
			b := buf[:size]
			if _, err := parts[i].f.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
				return 0, 0, err
			}
			for j := len(b) - 1; j >= 0; j-- {
				if atEnd {
					atEnd = false
					if b[j] == '\n' {
						continue
					}
				}
				if b[j] != '\n' {
					continue
				}
				n--
				if n == 0 {
					return i, pos + int64(j) + 1, nil
				}
			}
		}
	}
	return 0, 0, nil
}

// follower reads a log that is still being written: at the end of the
// current file it waits for more until the container has exited and the log
// is drained. When the shim rotates the file it is reading, it reads that
// file to its end and goes on with the next.
type follower struct {
	ctx    context.Context
	dir    string
	exited func() bool
	closed chan struct{}
	once   sync.Once

	mu sync.Mutex
	// files are the files still to read, files[0] being read; all but
	// the last are rotated, hence complete.
	files []*os.File
	// draining is set once files[0] was seen rotated: the shim writes no
	// more to it, so its end is the end.
	draining bool
	// last is set once the container was seen exited: one more pass to
	// the end of the log, then io.EOF.
	last bool
}

func newFollower(ctx context.Context, dir string, files []*os.File, exited func() bool) *follower {
	return &follower{ctx: ctx, dir: dir, files: files, exited: exited, closed: make(chan struct{})}
}

func (r *follower) Read(p []byte) (int, error) {
	for {
		f, more, err := r.current()
		if err != nil {
			return 0, err
		}
		n, err := f.Read(p)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if more {
			r.advance(nil)
			continue
		}
		if r.draining {
			next, err := successor(r.dir, f)
			if err != nil {
				return 0, err
			}
			r.advance(next)
			continue
		}
		if rotated(r.dir, f) {
			r.draining = true
			continue
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

// current returns the file being read and whether more files follow it.
func (r *follower) current() (*os.File, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.files) == 0 {
		return nil, false, os.ErrClosed
	}
	return r.files[0], len(r.files) > 1, nil
}

// advance closes the file read to its end and goes on with the next, or
// with next if not nil.
func (r *follower) advance(next *os.File) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.files) == 0 { // closed meanwhile
		if next != nil {
			next.Close()
		}
		return
	}
	r.files[0].Close()
	r.files = r.files[1:]
	if next != nil {
		r.files = append(r.files, next)
	}
	r.draining = false
}

func (r *follower) Close() error {
	r.once.Do(func() { close(r.closed) })
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		f.Close()
	}
	r.files = nil
	return nil
}

// rotated reports whether f is no longer the current `log` of dir. A
// missing `log` (a removed container) is no rotation.
func rotated(dir string, f *os.File) bool {
	cur, err := os.Stat(filepath.Join(dir, logFile))
	if err != nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && !os.SameFile(cur, fi)
}

// successorRetries bounds how often successor starts over because the log
// rotated while it looked.
const successorRetries = 100

// successor opens the file of the log in dir that follows f, which the shim
// has rotated: the rotated file after f's seq, else the current `log`. If f
// was dropped already (the reader fell more than the whole log behind), it
// goes on with the oldest file left.
func successor(dir string, f *os.File) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < successorRetries; attempt++ {
		rot, err := listRotated(dir)
		if err != nil {
			return nil, err
		}
		var after []rotatedLog
		for i, r := range rot {
			if st, err := os.Stat(r.path); err == nil && os.SameFile(st, fi) {
				after = rot[i+1:]
				break
			}
			after = rot // f not found: all that is left is newer
		}
		if len(after) > 0 {
			next, err := os.Open(after[0].path)
			if errors.Is(err, os.ErrNotExist) {
				continue // dropped meanwhile
			}
			return next, err
		}
		next, err := os.Open(filepath.Join(dir, logFile))
		if err != nil {
			return nil, err
		}
		// As in openParts: without a new seq, this `log` is the one that
		// followed f.
		again, err := listRotated(dir)
		if err != nil {
			next.Close()
			return nil, err
		}
		if newestSeq(again) == newestSeq(rot) {
			return next, nil
		}
		next.Close()
	}
	return nil, fmt.Errorf("%s: rotating too fast to follow", filepath.Join(dir, logFile))
}
