package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
)

// testImage is the busybox image of `make images`; the tests build it from
// Debian's busybox-static when it is missing.
const testImage = "drover/busybox:latest"

// newTestRuntime returns a Runtime over the local engine with a scope of
// its own, or skips the test when no engine answers. Every container of the
// scope is removed when the test ends.
func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	socket := os.Getenv("DOCKER_SOCKET")
	if socket == "" {
		socket = DefaultSocket
	}
	b := make([]byte, 4)
	rand.Read(b)
	scope := "test-" + hex.EncodeToString(b)
	r, err := New(Config{Socket: socket, Scope: scope, NamePrefix: "drovertest-" + scope + "-", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := r.Ping(ctx); err != nil {
		t.Skipf("no docker engine: %v", err)
	}
	ensureImage(t, r)
	t.Cleanup(func() {
		r.Close()
		removeScope(t, r)
	})
	return r
}

// removeScope force-removes every container of r's scope.
func removeScope(t *testing.T, r *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ents []listEntry
	q := url.Values{"all": {"1"}, "filters": {labelFilter(map[string]string{LabelScope: r.cfg.Scope})}}
	if err := r.e.call(ctx, http.MethodGet, "/containers/json", q, nil, &ents); err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for _, ent := range ents {
		if err := r.e.call(ctx, http.MethodDelete, "/containers/"+ent.ID, url.Values{"force": {"1"}, "v": {"1"}}, nil, nil); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}

// ensureImage builds testImage with the docker CLI if the engine lacks it.
func ensureImage(t *testing.T, r *Runtime) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := r.e.call(ctx, http.MethodGet, "/images/"+testImage+"/json", nil, nil, nil)
	if err == nil {
		return
	}
	if statusOf(err) != http.StatusNotFound {
		t.Fatalf("inspect image: %v", err)
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skipf("image %s missing and no busybox-static to build it (run `make images`)", testImage)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs", "bin"), 0o755)
	os.MkdirAll(filepath.Join(dir, "rootfs", "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "rootfs", "bin", "busybox"), data, 0o755)
	out, _ := exec.Command(bb, "--list").Output()
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(dir, "rootfs", "bin", a))
		}
	}
	df := "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"/bin/sh\"]\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", testImage, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", testImage, err, out)
	}
}

func cfgOf(id string, cmd ...string) *runtimev1.ContainerConfig {
	return &runtimev1.ContainerConfig{
		Id: id, Name: "main", Image: testImage, Command: cmd,
		Labels: map[string]string{"drover.pod-uid": "uid-" + id, "drover.container": "main"},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func readAll(t *testing.T, rc io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return string(b)
}

// P1, P2, P3: command, args, env, working dir, hostname reach the container;
// its exit code and both output streams come back.
func TestRunExitCodeAndLogs(t *testing.T) {
	r := newTestRuntime(t)
	ctx := ctxT(t)
	cfg := cfgOf("c1", "/bin/sh", "-c")
	cfg.Args = []string{`echo "out $FOO $(pwd) $(hostname)"; echo err >&2; exit 3`}
	cfg.Env = map[string]string{"FOO": "bar"}
	cfg.WorkingDir = "/tmp"
	cfg.Hostname = "job-0"
	cfg.CpuMillis = 500
	cfg.MemoryBytes = 64 << 20
	info, err := r.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_CREATED {
		t.Fatalf("Run returned a container that has not started: %v", info)
	}
	info, err = r.Wait(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if info.GetExitCode() != 3 || info.GetReason() != ReasonError || info.GetSignal() != 0 {
		t.Errorf("exit = %d/%s/signal %d, want 3/Error/0", info.GetExitCode(), info.GetReason(), info.GetSignal())
	}
	if info.GetStartedAtUnixNano() == 0 || info.GetFinishedAtUnixNano() < info.GetStartedAtUnixNano() {
		t.Errorf("times: started %d finished %d", info.GetStartedAtUnixNano(), info.GetFinishedAtUnixNano())
	}
	if info.GetLabels()["drover.pod-uid"] != "uid-c1" || info.GetLabels()[LabelScope] != "" {
		t.Errorf("labels = %v, want the caller's only", info.GetLabels())
	}
	rc, err := r.Logs(ctx, "c1", false, 0)
	logs := readAll(t, rc, err)
	if !strings.Contains(logs, "out bar /tmp job-0\n") || !strings.Contains(logs, "err\n") {
		t.Errorf("logs = %q", logs)
	}
	rc, err = r.Logs(ctx, "c1", false, 1)
	if tail := readAll(t, rc, err); strings.Count(tail, "\n") != 1 {
		t.Errorf("tail 1 = %q", tail)
	}
	var in struct {
		HostConfig struct {
			NanoCpus int64
			Memory   int64
		}
	}
	if err := r.e.call(ctx, http.MethodGet, "/containers/"+r.cfg.NamePrefix+"c1/json", nil, nil, &in); err != nil {
		t.Fatal(err)
	}
	if in.HostConfig.NanoCpus != 500_000_000 || in.HostConfig.Memory != 64<<20 {
		t.Errorf("limits = %+v, want 0.5 cpu and 64Mi", in.HostConfig)
	}
	if _, err := r.Run(ctx, cfg); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Errorf("second Run: %v, want ErrAlreadyExists", err)
	}
	if err := r.Remove(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Status(ctx, "c1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Remove: %v, want ErrNotFound", err)
	}
}

// Logs follow a running container until it exits.
func TestLogsFollow(t *testing.T) {
	r := newTestRuntime(t)
	ctx := ctxT(t)
	if _, err := r.Run(ctx, cfgOf("f1", "/bin/sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done")); err != nil {
		t.Fatal(err)
	}
	rc, err := r.Logs(ctx, "f1", true, 0)
	if got := readAll(t, rc, err); got != "line1\nline2\nline3\n" {
		t.Errorf("followed logs = %q", got)
	}
	info, err := r.Status(ctx, "f1")
	if err != nil || info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED || info.GetExitCode() != 0 || info.GetReason() != ReasonCompleted {
		t.Errorf("after follow: %v %v, want exited Completed", info, err)
	}
}

// Stop: SIGTERM with a grace period the container uses, SIGKILL when none.
func TestStopGraceAndKill(t *testing.T) {
	r := newTestRuntime(t)
	ctx := ctxT(t)
	term := `trap 'echo term; exit 0' TERM; while true; do sleep 0.1; done`
	if _, err := r.Run(ctx, cfgOf("g1", "/bin/sh", "-c", term)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, cfgOf("k1", "/bin/sleep", "300")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the shell install its trap
	info, err := r.Stop(ctx, "g1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetExitCode() != 0 || info.GetSignal() != 0 {
		t.Errorf("graceful stop: exit %d signal %d, want 0/0", info.GetExitCode(), info.GetSignal())
	}
	rc, err := r.Logs(ctx, "g1", false, 0)
	if logs := readAll(t, rc, err); !strings.Contains(logs, "term") {
		t.Errorf("logs = %q, want the TERM trap's output", logs)
	}
	start := time.Now()
	info, err = r.Stop(ctx, "k1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetSignal() != 9 || info.GetExitCode() != 137 {
		t.Errorf("kill: exit %d signal %d, want 137/9", info.GetExitCode(), info.GetSignal())
	}
	t.Logf("kill took %v", time.Since(start))
	if _, err := r.Stop(ctx, "k1", 0); err != nil {
		t.Errorf("stopping an exited container: %v", err)
	}
	if err := r.Remove(ctx, "missing"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Remove(missing) = %v, want ErrNotFound", err)
	}
}

// A running container cannot be removed.
func TestRemoveRunning(t *testing.T) {
	r := newTestRuntime(t)
	ctx := ctxT(t)
	if _, err := r.Run(ctx, cfgOf("r1", "/bin/sleep", "300")); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(ctx, "r1"); !errors.Is(err, runtime.ErrRunning) {
		t.Errorf("Remove(running) = %v, want ErrRunning", err)
	}
}

// A missing image fails at once with ImageNotFound, never pulled; a missing
// command with StartError.
func TestImageNotFoundAndStartError(t *testing.T) {
	r := newTestRuntime(t)
	ctx := ctxT(t)
	cfg := cfgOf("i1", "/bin/true")
	cfg.Image = "drover/no-such-image:never"
	start := time.Now()
	info, err := r.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED || info.GetReason() != ReasonImageNotFound ||
		!strings.Contains(info.GetMessage(), "drover/no-such-image:never") {
		t.Fatalf("Run(missing image) = %v, want exited ImageNotFound naming the image", info)
	}
	t.Logf("missing image reported in %v: %s", time.Since(start), info.GetMessage())
	if w, err := r.Wait(ctx, "i1"); err != nil || w.GetReason() != ReasonImageNotFound {
		t.Errorf("Wait = %v, %v", w, err)
	}
	list, err := r.List(ctx, map[string]string{"drover.pod-uid": "uid-i1"})
	if err != nil || len(list) != 1 {
		t.Errorf("List = %v, %v; want the failed container", list, err)
	}
	if err := r.Remove(ctx, "i1"); err != nil {
		t.Errorf("Remove = %v", err)
	}
	if _, err := r.Status(ctx, "i1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Remove = %v", err)
	}

	info, err = r.Run(ctx, cfgOf("s1", "/no/such/command"))
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED || info.GetReason() != ReasonStartError || info.GetExitCode() != ExitCodeStartError {
		t.Errorf("Run(missing command) = %v, want exited StartError 127", info)
	}
	if w, err := r.Wait(ctx, "s1"); err != nil || w.GetReason() != ReasonStartError {
		t.Errorf("Wait(start error) = %v, %v", w, err)
	}
}

// N3: a new Runtime over the same engine and scope (a restarted worker)
// finds the containers by label; another scope does not see them.
func TestRestartedRuntimeFindsContainers(t *testing.T) {
	r := newTestRuntime(t)
	ctx := ctxT(t)
	if _, err := r.Run(ctx, cfgOf("n1", "/bin/sleep", "300")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, cfgOf("n2", "/bin/true")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	again, _ := New(Config{Socket: r.cfg.Socket, Scope: r.cfg.Scope, NamePrefix: r.cfg.NamePrefix})
	list, err := again.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].GetId() != "n1" || list[1].GetId() != "n2" {
		t.Fatalf("restarted List = %v, want n1 and n2", list)
	}
	if list[0].GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING || list[1].GetReason() != ReasonCompleted {
		t.Errorf("states: %v / %v", list[0], list[1])
	}
	sel, err := again.List(ctx, map[string]string{"drover.pod-uid": "uid-n1"})
	if err != nil || len(sel) != 1 || sel[0].GetId() != "n1" {
		t.Errorf("List by pod uid = %v, %v", sel, err)
	}
	other, _ := New(Config{Socket: r.cfg.Socket, Scope: r.cfg.Scope + "-other", NamePrefix: r.cfg.NamePrefix})
	if l, err := other.List(ctx, nil); err != nil || len(l) != 0 {
		t.Errorf("another scope lists %v, %v; want nothing", l, err)
	}
	if _, err := other.Status(ctx, "n1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("another scope's Status = %v, want ErrNotFound", err)
	}
}

// N4: the fence kills every running container of the scope once its
// deadline passes without another Fence; a renewed fence keeps them.
func TestFenceKillsAtDeadline(t *testing.T) {
	r := newTestRuntime(t)
	clk := clocktesting.NewFakeClock(time.Now())
	r.cfg.Clock = clk
	ctx := ctxT(t)
	for _, id := range []string{"a", "b"} {
		if _, err := r.Run(ctx, cfgOf(id, "/bin/sleep", "300")); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Fence(ctx, 0); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Fence(0) = %v, want ErrInvalid", err)
	}
	if err := r.Fence(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Step(20 * time.Second)
	if err := r.Fence(ctx, 30*time.Second); err != nil { // renewed
		t.Fatal(err)
	}
	clk.Step(20 * time.Second) // 40 s after the first fence, 20 s after the second
	time.Sleep(200 * time.Millisecond)
	if info, err := r.Status(ctx, "a"); err != nil || info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING {
		t.Fatalf("before the renewed deadline: %v %v, want running", info, err)
	}
	clk.Step(11 * time.Second)
	for _, id := range []string{"a", "b"} {
		info, err := r.Wait(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if info.GetSignal() != 9 {
			t.Errorf("%s after the fence: %v, want killed by SIGKILL", id, info)
		}
	}
}
