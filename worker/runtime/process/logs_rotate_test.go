package process_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drover-dev/drover/worker/runtime"
	"github.com/drover-dev/drover/worker/runtime/process"
)

// Small bounds, so that a test's output rotates many times.
const (
	testLogMaxSize  = 64 << 10
	testLogMaxFiles = 3
)

func newRuntimeWith(t *testing.T, cfg process.Config) *process.Runtime {
	t.Helper()
	cfg.Root = t.TempDir()
	rt, err := process.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(t, rt) })
	return rt
}

// logFiles returns the sizes of the files of a container's log (`log` and
// the rotated `log.<n>`) and fails the test if one is not 0600.
func logFiles(t *testing.T, rt *process.Runtime, id string) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(rt.Root(), id))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		if e.Name() != "log" && !strings.HasPrefix(e.Name(), "log.") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (pod data)", e.Name(), fi.Mode().Perm())
		}
		out[e.Name()] = fi.Size()
	}
	return out
}

// seqLines checks that s is the lines from..to of `seq`, each ending in a
// newline.
func seqLines(t *testing.T, what, s string, from, to int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if !strings.HasSuffix(s, "\n") || len(lines) != to-from+1 {
		t.Fatalf("%s: %d lines (%.40q...%.40q), want %d..%d", what, len(lines), s, s[max(0, len(s)-40):], from, to)
	}
	for i, l := range lines {
		if l != strconv.Itoa(from+i) {
			t.Fatalf("%s: line %d is %q, want %d", what, i, l, from+i)
		}
	}
}

// TestLogRotationBoundsDisk: a container that prints far more than
// LogMaxSize*LogMaxFiles leaves at most that on disk, in files of at most
// LogMaxSize, with no slack (writes are split at LogMaxSize); Logs reads the
// newest output, across the rotated files in order (SPEC W3, issue 13 #5).
func TestLogRotationBoundsDisk(t *testing.T) {
	t.Parallel()
	const lines = 200000 // 1.3 MB: ~20 files of 64 KiB
	for _, files := range []int{testLogMaxFiles, 1} {
		t.Run(fmt.Sprintf("files=%d", files), func(t *testing.T) {
			t.Parallel()
			rt := newRuntimeWith(t, process.Config{LogMaxSize: testLogMaxSize, LogMaxFiles: files})
			run(t, rt, shell("flood", fmt.Sprintf("seq 1 %d", lines)))
			wait(t, rt, "flood")

			sizes := logFiles(t, rt, "flood")
			var total int64
			for name, size := range sizes {
				total += size
				if size > testLogMaxSize {
					t.Errorf("%s: %d bytes, more than the max size %d", name, size, testLogMaxSize)
				}
			}
			if len(sizes) > files || total > int64(files)*testLogMaxSize {
				t.Fatalf("log files %v: %d bytes in %d files, want at most %d files of %d bytes",
					sizes, total, len(sizes), files, testLogMaxSize)
			}
			if total < int64(files-1)*testLogMaxSize {
				t.Errorf("log files %v: %d bytes, fewer than the %d full rotated files", sizes, total, files-1)
			}

			if got := readLogs(t, rt, "flood", false, 1); got != strconv.Itoa(lines)+"\n" {
				t.Errorf("tail 1: %q", got)
			}
			// The whole log: the newest output, oldest first, the first
			// line possibly cut by the drop of the file before.
			all := readLogs(t, rt, "flood", false, 0)
			if int64(len(all)) != total {
				t.Errorf("whole log: %d bytes, the files hold %d", len(all), total)
			}
			_, rest, _ := strings.Cut(all, "\n")
			first, err := strconv.Atoi(rest[:strings.IndexByte(rest, '\n')])
			if err != nil {
				t.Fatalf("whole log starts %.40q", all)
			}
			seqLines(t, "whole log", rest, first, lines)
			// A tail longer than the current file goes on in the rotated
			// ones (if any are kept): all but the first whole line.
			n := lines - first
			seqLines(t, "tail "+strconv.Itoa(n), readLogs(t, rt, "flood", false, int64(n)), first+1, lines)
		})
	}
}

// TestLogFollowAcrossRotation: a follower sees every line the container
// writes, across many rotations (SPEC W3, issue 13 #5). The container writes
// a chunk larger than a log file, then waits for the test to have read it,
// so the follower never falls behind by the whole log.
func TestLogFollowAcrossRotation(t *testing.T) {
	t.Parallel()
	rt := newRuntimeWith(t, process.Config{LogMaxSize: testLogMaxSize, LogMaxFiles: testLogMaxFiles})
	const chunks, perChunk = 5, 15000 // 15000 lines of 6-7 bytes: > 64 KiB
	fifo := filepath.Join(t.TempDir(), "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opened read-write, the fifo never blocks the test; the container's
	// `read` waits until the test writes a line.
	ctl, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	cfg := shell("follow", fmt.Sprintf(`for c in $(seq 0 %d); do seq $((c*%d+1)) $((c*%d+%d)); echo end; read x < "$FIFO"; done`,
		chunks-1, perChunk, perChunk, perChunk))
	cfg.Env = map[string]string{"FIFO": fifo}
	run(t, rt, cfg)

	r, err := rt.Logs(ctxT(t), "follow", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	next := 1
	for c := 0; c < chunks; c++ {
		for sc.Scan() && sc.Text() != "end" {
			if sc.Text() != strconv.Itoa(next) {
				t.Fatalf("chunk %d: line %q, want %d", c, sc.Text(), next)
			}
			next++
		}
		if sc.Err() != nil || next != (c+1)*perChunk+1 {
			t.Fatalf("chunk %d: stream ended at line %d: %v", c, next, sc.Err())
		}
		if c == 0 {
			// The first chunk alone filled a file.
			if size := logFiles(t, rt, "follow")["log"]; size > testLogMaxSize {
				t.Fatalf("log: %d bytes, not rotated at %d", size, testLogMaxSize)
			}
		}
		if _, err := ctl.WriteString("go\n"); err != nil {
			t.Fatal(err)
		}
	}
	if sc.Scan() {
		t.Fatalf("after the last chunk: %q", sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	if info := wait(t, rt, "follow"); info.GetExitCode() != 0 {
		t.Fatalf("container: %v", info)
	}
}

// TestLogLimitsValidated: log bounds out of range are refused, naming the
// field at fault.
func TestLogLimitsValidated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   process.Config
		field string
	}{
		{process.Config{LogMaxSize: 1000}, "LogMaxSize"},
		{process.Config{LogMaxSize: -1}, "LogMaxSize"},
		{process.Config{LogMaxFiles: -1}, "LogMaxFiles"},
	} {
		tc.cfg.Root = t.TempDir()
		_, err := process.New(tc.cfg)
		if !errors.Is(err, runtime.ErrLogLimit) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v): %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}

// TestLogFollowerFallsBehind: a follower that falls behind by more than the
// whole log loses the output dropped meanwhile, but neither breaks nor
// stops: it reads the file it holds open to its end, then goes on with the
// oldest file left, to the end of the log (SPEC W3, issue 13 #5).
func TestLogFollowerFallsBehind(t *testing.T) {
	t.Parallel()
	rt := newRuntimeWith(t, process.Config{LogMaxSize: testLogMaxSize, LogMaxFiles: testLogMaxFiles})
	const lines = 200000 // 1.3 MB: ~20 files of 64 KiB, 3 kept
	fifo := filepath.Join(t.TempDir(), "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctl, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	cfg := shell("behind", fmt.Sprintf(`read x < "$FIFO"; seq 1 %d`, lines))
	cfg.Env = map[string]string{"FIFO": fifo}
	run(t, rt, cfg)
	// The follower opens the log while it is empty, and reads nothing
	// until the container has written all and exited.
	r, err := rt.Logs(ctxT(t), "behind", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := ctl.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	wait(t, rt, "behind")
	sc := bufio.NewScanner(r)
	var got []int
	for sc.Scan() {
		// (Where files were dropped, the two halves of cut lines make
		// one line of digits.)
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatalf("line %q", sc.Text())
		}
		got = append(got, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	// The first file it held, from line 1; a gap; the newest output, to
	// the end.
	if len(got) == 0 || got[0] != 1 || got[len(got)-1] != lines {
		t.Fatalf("followed %d lines, from %v to %v", len(got), got[:min(1, len(got))], got[max(0, len(got)-1):])
	}
	gaps := 0
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			gaps++
		}
	}
	if gaps == 0 || gaps > 2 {
		t.Errorf("followed %d lines with %d breaks, want the one gap of the dropped files (a cut line makes 2)", len(got), gaps)
	}
}
