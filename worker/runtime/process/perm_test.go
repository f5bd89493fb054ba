package process_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPodDataFilesPrivate: every file of a container that holds pod data
// (its config with the env, its state, exit status and log) is 0600: the
// engineering rule for pod data, and what SPEC A4 builds on.
func TestPodDataFilesPrivate(t *testing.T) {
	rt := newRuntime(t)
	cfg := shell("private", "echo hi")
	cfg.Env = map[string]string{"TOKEN": "s3cret"}
	run(t, rt, cfg)
	wait(t, rt, "private")
	dir := filepath.Join(rt.Root(), "private")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		switch e.Name() {
		case "config.json", "state.json", "exit.json", "log":
		default:
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		checked++
	}
	if checked < 3 {
		t.Errorf("checked %d files of %v", checked, entries)
	}
}
