package runtime_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
	"github.com/drover-dev/drover/worker/runtime/process"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == process.ShimArg {
		os.Exit(process.ShimMain(os.Args[2]))
	}
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	goleak.VerifyTestMain(m)
}

// TestOverGRPC drives the process runtime through the unix-socket server and
// the client, checking that errors keep their identity across the wire.
func TestOverGRPC(t *testing.T) {
	dir := t.TempDir()
	rt, err := process.New(process.Config{Root: filepath.Join(dir, "containers")})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "rt.sock")
	// A stale socket file from a dead process is replaced.
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srvCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- runtime.Serve(srvCtx, sock, rt) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	conn, closer, err := runtime.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	c := runtime.NewClient(conn)

	// The container waits on a fifo the test writes only after checking
	// that it runs (a sleep finished first on a loaded machine).
	fifo := filepath.Join(dir, "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release.Close()
	cfg := &runtimev1.ContainerConfig{Id: "c1", Command: []string{"sh", "-c", `echo a; read x < "$FIFO"; echo b; exit 5`},
		Env: map[string]string{"FIFO": fifo}, Labels: map[string]string{"k": "v"}}
	info, err := c.Run(ctx, cfg)
	if err != nil || info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING {
		t.Fatalf("run: %v %v", info, err)
	}
	if _, err := c.Run(ctx, cfg); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("run twice: %v", err)
	}
	if err := c.Remove(ctx, "c1"); !errors.Is(err, runtime.ErrRunning) {
		t.Fatalf("remove running: %v", err)
	}
	if _, err := release.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Logs(ctx, "c1", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "a\nb\n" {
		t.Fatalf("follow: %q %v", b, err)
	}
	final, err := c.Wait(ctx, "c1")
	if err != nil || final.GetExitCode() != 5 {
		t.Fatalf("wait: %v %v", final, err)
	}
	list, err := c.List(ctx, map[string]string{"k": "v"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if _, err := c.Stop(ctx, "c1", time.Second); err != nil {
		t.Fatalf("stop exited: %v", err)
	}
	if err := c.Remove(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx, "c1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("status: %v", err)
	}
	if _, err := c.Logs(ctx, "c1", false, 0); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("logs: %v", err)
	}
	if err := c.Fence(ctx, 0); !errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("fence 0: %v", err)
	}
	// A second server on the same socket is refused while the first runs.
	if err := runtime.Serve(ctx, sock, rt); err == nil {
		t.Fatal("second server on a live socket")
	}
}
