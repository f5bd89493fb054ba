package process_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
	"github.com/drover-dev/drover/worker/runtime/process"
)

// Environment of TestCreateHelper, the subprocess that creates a container
// and crashes part way (process.CrashEnv names where).
const (
	helperRootEnv   = "DROVER_TEST_CRASH_ROOT"
	helperMarkerEnv = "DROVER_TEST_CRASH_MARKER"
)

// crashCfg is the container the crash tests create: it leaves marker behind
// if its command ever runs.
func crashCfg(marker string) *runtimev1.ContainerConfig {
	cfg := shell("pod-main", "echo ran >> "+marker)
	cfg.Labels = map[string]string{"pod": "p"}
	return cfg
}

// TestCreateHelper is not a test: run by TestCrashDuringCreation in a
// subprocess, it creates the container and is killed (or its shim is) at
// the step process.CrashEnv names.
func TestCreateHelper(t *testing.T) {
	root := os.Getenv(helperRootEnv)
	if root == "" {
		t.Skip("a subprocess of TestCrashDuringCreation")
	}
	rt, err := process.New(process.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(context.Background(), crashCfg(os.Getenv(helperMarkerEnv))); err != nil {
		t.Fatal(err)
	}
}

// TestCrashDuringCreation (SPEC J11, N3; issue 13 #1a): whatever step of a
// container's creation the creating process (a worker) or the shim dies at,
// a fresh Runtime over the same root, driven as a restarted worker drives
// it (the pod's container is found by List and waited for, or, if there is
// none, run again), reaches a defined outcome: the command ran to its end,
// exactly once, or (when the shim died under a live creator) the container
// exited with StartError and its command never runs later. Nothing is
// left that cannot be removed, and no staging directory survives.
func TestCrashDuringCreation(t *testing.T) {
	const (
		started = "started" // ran to its end (exit 0)
		failed  = "failed"  // exited with StartError
	)
	want := map[string][]string{
		// Nothing named by the id yet: the restarted worker runs it.
		"staged": {started},
		"config": {started},
		// Created, no shim: its command never ran, so it is removed when
		// found, and the restarted worker runs it.
		"renamed": {started},
		// The orphaned shim runs it, or loses the race with the removal
		// and never runs it: either way it runs once.
		"shim-started": {started},
		"shim-exited":  {started},
		// The creator lives and records the shim's death.
		"shim1":         {failed},
		"shim2-locked":  {failed},
		"shim2-started": {failed},
	}
	steps := append(append([]string(nil), process.CreatorSteps...), process.ShimSteps...)
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			marker := filepath.Join(t.TempDir(), "ran")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCreateHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), process.CrashEnv+"="+step, helperRootEnv+"="+root, helperMarkerEnv+"="+marker)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
			creatorStep := contains(process.CreatorSteps, step)
			if creatorStep && !killed || !creatorStep && err != nil {
				t.Fatalf("creator: %v (killed %v)\n%s", err, killed, out)
			}

			rt := newRuntimeAt(t, root)
			ctx := ctxT(t)
			cfg := crashCfg(marker)
			infos, err := rt.List(ctx, map[string]string{"pod": "p"})
			if err != nil {
				t.Fatal(err)
			}
			switch len(infos) {
			case 0:
				run(t, rt, cfg)
			case 1:
			default:
				t.Fatalf("containers: %v", infos)
			}
			final := wait(t, rt, cfg.GetId())
			outcome := ""
			switch {
			case final.GetExitCode() == 0 && final.GetReason() == process.ReasonCompleted:
				outcome = started
				if b, err := os.ReadFile(marker); err != nil || string(b) != "ran\n" {
					t.Errorf("completed, but the command's output is %q (%v)", b, err)
				}
			case final.GetExitCode() == process.ExitCodeStartError && final.GetReason() == process.ReasonStartError:
				outcome = failed
				if step != "shim2-started" { // there the command may have begun
					if _, err := os.Stat(marker); err == nil {
						t.Errorf("reported never started, but the command ran")
					}
				}
			}
			if !contains(want[step], outcome) {
				t.Fatalf("outcome %q (%v), want one of %v", outcome, final, want[step])
			}
			if again, err := rt.Status(ctx, cfg.GetId()); err != nil || again.GetState() != final.GetState() || again.GetReason() != final.GetReason() {
				t.Errorf("state changed after it was final: %v, then %v %v", final, again, err)
			}
			if err := rt.Remove(ctx, cfg.GetId()); err != nil {
				t.Fatalf("remove: %v", err)
			}
			ents, _ := os.ReadDir(root)
			for _, e := range ents {
				if e.Name() != "fence" {
					t.Errorf("left in the root after remove: %s", e.Name())
				}
			}
			// The id can be used again.
			os.Remove(marker)
			run(t, rt, cfg)
			if info := wait(t, rt, cfg.GetId()); info.GetExitCode() != 0 {
				t.Errorf("run again: %v", info)
			}
		})
	}
}

// TestRunOverHalfCreatedDirectory (issue 13 #1a): a container directory
// without a config, left by a worker that died while creating it in place
// (as Drover did before staging creation; the case: only
// config.json.tmp), is no container: Run creates the container anyway,
// instead of failing with ErrAlreadyExists while Status says ErrNotFound.
func TestRunOverHalfCreatedDirectory(t *testing.T) {
	for _, leftover := range []string{"", "config.json.tmp"} {
		t.Run("with "+leftover, func(t *testing.T) {
			root := t.TempDir()
			cfg := shell("half", "echo hello")
			dir := filepath.Join(root, cfg.GetId())
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if leftover != "" {
				if err := os.WriteFile(filepath.Join(dir, leftover), []byte(`{"id":`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			rt := newRuntimeAt(t, root)
			if _, err := rt.Status(ctxT(t), cfg.GetId()); !errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("status of the half-created container: %v", err)
			}
			run(t, rt, cfg)
			if info := wait(t, rt, cfg.GetId()); info.GetExitCode() != 0 {
				t.Fatalf("exit: %v", info)
			}
			if got := readLogs(t, rt, cfg.GetId(), false, 0); got != "hello\n" {
				t.Errorf("logs %q", got)
			}
			// A real container is never replaced.
			if _, err := rt.Run(ctxT(t), cfg); !errors.Is(err, runtime.ErrAlreadyExists) {
				t.Errorf("second run: %v", err)
			}
		})
	}
}

func newRuntimeAt(t *testing.T, root string) *process.Runtime {
	t.Helper()
	rt, err := process.New(process.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(t, rt) })
	return rt
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
