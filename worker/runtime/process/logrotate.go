package process

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drover-dev/drover/worker/runtime"
)

// A container's log is the file `log`, which the shim appends to, and up to
// LogMaxFiles-1 rotated files `log.<seq>`, older output in lower seqs (SPEC
// W3). Rotated files are never renamed or written again, only deleted, the
// oldest first; so a reader that knows the seq of its file knows which
// comes next. Rotation links the full `log` as `log.<seq>` before a new empty
// file replaces `log` (by rename), so `log` always exists and every byte is
// in a named file until the oldest is dropped.
const logNewFile = logFile + ".new"

// Environment through which the runtime passes the log bounds to the shim.
const (
	logMaxSizeEnv  = "DROVER_SHIM_LOG_MAX_SIZE"
	logMaxFilesEnv = "DROVER_SHIM_LOG_MAX_FILES"
)

// logDrainTimeout bounds how long the shim, once the container's process
// group is gone, keeps copying output from processes that left the group and
// still hold the container's stdout.
const logDrainTimeout = 2 * time.Second

// rotatedLog is one rotated file of a container's log.
type rotatedLog struct {
	seq  int64
	path string
}

// listRotated returns the rotated files of the log in dir, oldest first.
func listRotated(dir string) ([]rotatedLog, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []rotatedLog
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), logFile+".")
		if !ok {
			continue
		}
		seq, err := strconv.ParseInt(s, 10, 64)
		if err != nil || seq <= 0 || strconv.FormatInt(seq, 10) != s {
			continue // log.new, or no file of ours
		}
		out = append(out, rotatedLog{seq: seq, path: filepath.Join(dir, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out, nil
}

// rotatingLog is the shim's writer of a container's log: it appends to
// `log` and rotates it once it holds maxSize bytes, keeping maxFiles files
// in all. Writes are split at maxSize, so no file exceeds it and the log
// never holds more than maxSize*maxFiles bytes on disk (files that readers
// still hold open once deleted aside). Not safe for concurrent use.
type rotatingLog struct {
	dir      string
	maxSize  int64
	maxFiles int
	f        *os.File
	size     int64
	next     int64 // seq of the next rotated file
}

func openRotatingLog(dir string, maxSize int64, maxFiles int) (*rotatingLog, error) {
	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600) // pod data (a runtime of old made it 0644)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &rotatingLog{dir: dir, maxSize: maxSize, maxFiles: maxFiles, f: f, size: fi.Size(), next: 1}
	if rot, err := listRotated(dir); err == nil && len(rot) > 0 {
		l.next = rot[len(rot)-1].seq + 1
	}
	return l, nil
}

// Write appends p, rotating the log as often as p needs.
func (l *rotatingLog) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if l.size >= l.maxSize {
			if err := l.rotate(); err != nil {
				return written, err
			}
		}
		n := min(int64(len(p)), l.maxSize-l.size)
		m, err := l.f.Write(p[:n])
		l.size += int64(m)
		written += m
		p = p[m:]
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// rotate keeps the full `log` as the newest rotated file (unless maxFiles is
// 1), replaces `log` with an empty file and drops the oldest rotated files
// beyond maxFiles-1.
func (l *rotatingLog) rotate() error {
	cur := filepath.Join(l.dir, logFile)
	nf, err := os.OpenFile(filepath.Join(l.dir, logNewFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if l.maxFiles > 1 {
		kept := filepath.Join(l.dir, logFile+"."+strconv.FormatInt(l.next, 10))
		if err := os.Link(cur, kept); err != nil {
			// No hard links here: rename, and `log` is missing for a moment.
			if err := os.Rename(cur, kept); err != nil {
				nf.Close()
				return err
			}
		}
		l.next++
	}
	if err := os.Rename(filepath.Join(l.dir, logNewFile), cur); err != nil {
		nf.Close()
		return err
	}
	l.f.Close()
	l.f, l.size = nf, 0
	rot, err := listRotated(l.dir)
	if err != nil {
		return nil // the next rotation prunes
	}
	for len(rot) > l.maxFiles-1 {
		if err := os.Remove(rot[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil
		}
		rot = rot[1:]
	}
	return nil
}

func (l *rotatingLog) Close() error { return l.f.Close() }

// logLimitsFromEnv reads the log bounds the runtime passed to the shim; the
// defaults when unset or unreadable.
func logLimitsFromEnv() (maxSize int64, maxFiles int) {
	maxSize, maxFiles = runtime.DefaultLogMaxSize, runtime.DefaultLogMaxFiles
	if n, err := strconv.ParseInt(os.Getenv(logMaxSizeEnv), 10, 64); err == nil && n > 0 {
		maxSize = n
	}
	if n, err := strconv.Atoi(os.Getenv(logMaxFilesEnv)); err == nil && n > 0 {
		maxFiles = n
	}
	return maxSize, maxFiles
}

// copyLog copies the container's output from r to w until r ends (every
// writer closed it, or its read deadline passed), then closes r and the
// returned channel. A failed write (disk full) drops that output, never
// blocks the container.
func copyLog(r *os.File, w io.Writer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return done
}
