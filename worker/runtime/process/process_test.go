package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
	"github.com/drover-dev/drover/worker/runtime/process"
)

// TestMain lets the test binary act as the shim: the runtime re-executes
// /proc/self/exe with ShimArg.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == process.ShimArg {
		os.Exit(process.ShimMain(os.Args[2]))
	}
	// A race-enabled binary sleeps 1 s when it exits; the shim's first
	// stage exits on every Run.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	goleak.VerifyTestMain(m)
}

const (
	exited  = runtimev1.ContainerState_CONTAINER_STATE_EXITED
	running = runtimev1.ContainerState_CONTAINER_STATE_RUNNING
)

// newRuntime returns a Runtime over a fresh root whose containers are
// killed when the test ends.
func newRuntime(t *testing.T) *process.Runtime {
	t.Helper()
	rt, err := process.New(process.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(t, rt) })
	return rt
}

func killAll(t *testing.T, rt runtime.Backend) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	infos, err := rt.List(ctx, nil)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, info := range infos {
		if _, err := rt.Stop(ctx, info.GetId(), 0); err != nil {
			t.Errorf("cleanup: stop %s: %v", info.GetId(), err)
		}
	}
}

func shell(id, script string) *runtimev1.ContainerConfig {
	return &runtimev1.ContainerConfig{Id: id, Name: "main", Command: []string{"sh", "-c", script}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func run(t *testing.T, rt runtime.Backend, cfg *runtimev1.ContainerConfig) *runtimev1.ContainerInfo {
	t.Helper()
	info, err := rt.Run(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("run %s: %v", cfg.GetId(), err)
	}
	return info
}

func wait(t *testing.T, rt runtime.Backend, id string) *runtimev1.ContainerInfo {
	t.Helper()
	info, err := rt.Wait(ctxT(t), id)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	if info.GetState() != exited {
		t.Fatalf("wait %s: state %v", id, info.GetState())
	}
	return info
}

func readLogs(t *testing.T, rt runtime.Backend, id string, follow bool, tail int64) string {
	t.Helper()
	r, err := rt.Logs(ctxT(t), id, follow, tail)
	if err != nil {
		t.Fatalf("logs %s: %v", id, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("logs %s: %v", id, err)
	}
	return string(b)
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	notExec := filepath.Join(t.TempDir(), "not-executable")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	tests := []struct {
		name     string
		cfg      *runtimev1.ContainerConfig
		code     int32
		signal   int32
		reason   string
		inLog    string
		inReason string
	}{
		{name: "ok", cfg: shell("ok", "echo hi"), code: 0, reason: "Completed", inLog: "hi\n"},
		{name: "fail", cfg: shell("fail", "echo oops >&2; exit 3"), code: 3, reason: "Error", inLog: "oops\n"},
		{name: "signal", cfg: shell("signal", "kill -TERM $$"), code: 143, signal: 15, reason: "Error"},
		{name: "args only", cfg: &runtimev1.ContainerConfig{Id: "args", Args: []string{"sh", "-c", "exit 2"}}, code: 2, reason: "Error"},
		{name: "command and args", cfg: &runtimev1.ContainerConfig{Id: "cmdargs", Command: []string{"sh", "-c"}, Args: []string{"echo $0 $1", "a", "b"}}, code: 0, reason: "Completed", inLog: "a b\n"},
		{name: "not found", cfg: &runtimev1.ContainerConfig{Id: "nf", Command: []string{"no-such-command-xyz"}}, code: 127, reason: "StartError", inReason: "not found"},
		{name: "not executable", cfg: &runtimev1.ContainerConfig{Id: "nx", Command: []string{notExec}}, code: 127, reason: "StartError", inReason: "permission denied"},
		{name: "nothing to run", cfg: &runtimev1.ContainerConfig{Id: "empty"}, code: 127, reason: "StartError", inReason: "no command"},
		{name: "bad working dir", cfg: &runtimev1.ContainerConfig{Id: "wd", Command: []string{"true"}, WorkingDir: "/no/such/dir"}, code: 127, reason: "StartError", inReason: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run(t, rt, tc.cfg)
			info := wait(t, rt, tc.cfg.GetId())
			if info.GetExitCode() != tc.code || info.GetSignal() != tc.signal || info.GetReason() != tc.reason {
				t.Errorf("got exit %d signal %d reason %q (%s), want %d %d %q",
					info.GetExitCode(), info.GetSignal(), info.GetReason(), info.GetMessage(), tc.code, tc.signal, tc.reason)
			}
			if !strings.Contains(info.GetMessage(), tc.inReason) {
				t.Errorf("message %q does not contain %q", info.GetMessage(), tc.inReason)
			}
			if info.GetFinishedAtUnixNano() < info.GetStartedAtUnixNano() || info.GetFinishedAtUnixNano() == 0 {
				t.Errorf("times: started %d finished %d", info.GetStartedAtUnixNano(), info.GetFinishedAtUnixNano())
			}
			if got := readLogs(t, rt, tc.cfg.GetId(), false, 0); tc.inLog != "" && got != tc.inLog {
				t.Errorf("log %q, want %q", got, tc.inLog)
			}
		})
	}
}

func TestEnvHostnameAndWorkingDir(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	wd := t.TempDir()
	cfg := shell("env", `echo "$FOO $HOSTNAME $(pwd)"`)
	cfg.Env = map[string]string{"FOO": "bar"}
	cfg.Hostname = "pod-0"
	cfg.WorkingDir = wd
	run(t, rt, cfg)
	wait(t, rt, "env")
	if got, want := readLogs(t, rt, "env", false, 0), "bar pod-0 "+wd+"\n"; got != want {
		t.Fatalf("log %q, want %q", got, want)
	}
}

func TestLogsTailAndFollow(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	run(t, rt, shell("lines", "for i in 1 2 3 4 5; do echo line$i; done; printf partial"))
	wait(t, rt, "lines")
	if got, want := readLogs(t, rt, "lines", false, 2), "line5\npartial"; got != want {
		t.Errorf("tail 2: %q, want %q", got, want)
	}
	if got, want := readLogs(t, rt, "lines", false, 100), "line1\nline2\nline3\nline4\nline5\npartial"; got != want {
		t.Errorf("tail 100: %q, want %q", got, want)
	}

	// Follow reads output as it comes and ends once the container has
	// exited and the log is drained.
	run(t, rt, shell("slow", "echo one; sleep 0.3; echo two; sleep 0.3; echo three"))
	r, err := rt.Logs(ctxT(t), "slow", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "one\ntwo\nthree\n"; got != want {
		t.Errorf("follow: %q, want %q", got, want)
	}
	if info, _ := rt.Status(ctxT(t), "slow"); info.GetState() != exited {
		t.Errorf("follow returned before the container exited: %v", info.GetState())
	}

	// Closing a follower stops it.
	run(t, rt, shell("forever", "echo x; sleep 30"))
	r, err = rt.Logs(ctxT(t), "forever", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "x\n" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	done := make(chan error)
	go func() { _, err := r.Read(buf); done <- err }()
	r.Close()
	if err := <-done; err == nil {
		t.Fatal("read after close: no error")
	}
}

func TestStopGraceful(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	run(t, rt, shell("trap", "trap 'echo term; exit 0' TERM; echo ready; while :; do sleep 0.05; done"))
	waitLog(t, rt, "trap", "ready")
	start := time.Now()
	info, err := rt.Stop(ctxT(t), "trap", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != exited || info.GetExitCode() != 0 || info.GetSignal() != 0 {
		t.Fatalf("stopped: %v", info)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("graceful stop took %v", d)
	}
	// (sh may also report its child's death by TERM.)
	if got := readLogs(t, rt, "trap", false, 0); !strings.HasPrefix(got, "ready\n") || !strings.HasSuffix(got, "term\n") {
		t.Fatalf("log %q", got)
	}
	// Stopping an exited container returns its state.
	if again, err := rt.Stop(ctxT(t), "trap", time.Second); err != nil || again.GetExitCode() != 0 {
		t.Fatalf("stop again: %v %v", again, err)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	run(t, rt, shell("stubborn", "trap '' TERM; echo ready; while :; do sleep 0.05; done"))
	waitLog(t, rt, "stubborn", "ready")
	start := time.Now()
	info, err := rt.Stop(ctxT(t), "stubborn", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetSignal() != 9 || info.GetExitCode() != 137 || info.GetReason() != "Error" {
		t.Fatalf("stopped: %v", info)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("killed after %v, before the grace period", d)
	}
}

func TestListByLabel(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	for _, c := range []struct{ id, node string }{{"a", "n1"}, {"b", "n2"}, {"c", "n1"}} {
		cfg := shell(c.id, "true")
		cfg.Labels = map[string]string{"drover.node": c.node, "id": c.id}
		run(t, rt, cfg)
	}
	infos, err := rt.List(ctxT(t), map[string]string{"drover.node": "n1"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range infos {
		ids = append(ids, i.GetId())
	}
	if got := strings.Join(ids, ","); got != "a,c" {
		t.Fatalf("list n1: %s", got)
	}
	all, _ := rt.List(ctxT(t), nil)
	if len(all) != 3 {
		t.Fatalf("list all: %d", len(all))
	}
}

func TestRemoveAndErrors(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ctx := ctxT(t)
	run(t, rt, shell("r", "sleep 30"))
	if _, err := rt.Run(ctx, shell("r", "true")); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("run twice: %v", err)
	}
	if err := rt.Remove(ctx, "r"); !errors.Is(err, runtime.ErrRunning) {
		t.Fatalf("remove running: %v", err)
	}
	if _, err := rt.Stop(ctx, "r", 0); err != nil {
		t.Fatal(err)
	}
	if err := rt.Remove(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Status(ctx, "r"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("status after remove: %v", err)
	}
	if _, err := rt.Logs(ctx, "r", false, 0); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("logs after remove: %v", err)
	}
	if _, err := rt.Run(ctx, shell("../x", "true")); !errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("bad id: %v", err)
	}
}

// TestRestart: a new Runtime over the same root (a restarted worker) finds a
// running container, and later its exit code (SPEC N3). The job exits when
// the test says so, on a fifo, not after a sleep that a loaded machine
// outlasts before the test looks (issue 13 #12).
func TestRestart(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	first, err := process.New(process.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "exit")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opened read-write, the fifo never blocks the test; the job's read
	// waits until the test writes a line.
	ctl, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	job := shell("job", `echo started; read x < "$FIFO"; exit 4`)
	job.Env = map[string]string{"FIFO": fifo}
	started := run(t, first, job)
	run(t, first, shell("sleeper", "sleep 30"))
	if started.GetState() != running || started.GetPid() == 0 {
		t.Fatalf("started: %v", started)
	}

	second, err := process.New(process.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(t, second) })
	info, err := second.Status(ctxT(t), "job")
	if err != nil || info.GetState() != running || info.GetPid() != started.GetPid() {
		t.Fatalf("after restart: %v %v", info, err)
	}
	if _, err := ctl.WriteString("exit\n"); err != nil {
		t.Fatal(err)
	}
	final := wait(t, second, "job")
	if final.GetExitCode() != 4 || final.GetStartedAtUnixNano() != started.GetStartedAtUnixNano() {
		t.Fatalf("final: %v", final)
	}
	// A generous grace: SIGTERM ends sleep at once, the grace only bounds
	// how long the shim may take to record it.
	stopped, err := second.Stop(ctxT(t), "sleeper", 10*time.Second)
	if err != nil || stopped.GetSignal() != 15 {
		t.Fatalf("stop sleeper from the new runtime: %v %v", stopped, err)
	}
}

// TestShimKilled: a shim that dies takes its command with it, and the
// container reads as exited with reason Unknown.
func TestShimKilled(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	info := run(t, rt, shell("orphan", "sleep 30"))
	shimPid := shimPidOf(t, rt, "orphan")
	if err := unix.Kill(shimPid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	final := wait(t, rt, "orphan")
	if final.GetReason() != process.ReasonUnknown || final.GetExitCode() != process.ExitCodeUnknown {
		t.Fatalf("final: %v", final)
	}
	// Pdeathsig killed the command.
	deadline := time.Now().Add(5 * time.Second)
	for unix.Kill(int(info.GetPid()), 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("command %d outlived its shim", info.GetPid())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFence: once the fence deadline passes without a renewal, the shims kill
// their commands, without the runtime's help.
func TestFence(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ctx := ctxT(t)
	if err := rt.Fence(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	run(t, rt, shell("fenced", "sleep 30"))
	if err := rt.Fence(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	final := wait(t, rt, "fenced")
	if final.GetSignal() != 9 || !strings.Contains(final.GetMessage(), "fence") {
		t.Fatalf("final: %v", final)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("fence took %v", d)
	}
	if err := rt.Fence(ctx, 0); !errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("fence 0: %v", err)
	}
}

func waitLog(t *testing.T, rt runtime.Backend, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readLogs(t, rt, id, false, 0), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in log", id, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func shimPidOf(t *testing.T, rt *process.Runtime, id string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rt.Root(), id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		ShimPid int `json:"shimPid"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.ShimPid == 0 {
		t.Fatalf("state.json %s: %v", b, err)
	}
	return st.ShimPid
}
