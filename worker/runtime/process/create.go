package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
)

// Creating a container is several steps (a directory, its config, a shim
// that starts the command and records it), and the process that runs them
// can die at any of them. Every state that leaves must end in a defined
// outcome (SPEC J11, N3; issue 13 #1), so creation goes:
//
//  1. The directory is built under a staging name (<root>/.new-*, never an
//     id), locked with flock(2), and its config.json written.
//  2. It is renamed to <root>/<id>, still locked: a container's directory
//     never exists without its config, and while it is being started its
//     directory is locked by its creator.
//  3. The shim starts the command, records state.json, and the creator lets
//     go of the lock once the shim has reported (or exit.json records why it
//     could not start).
//
// A creator that dies before step 2 leaves only a staging directory, which
// New sweeps once no one holds its lock; the container does not exist and
// can be run again. One that dies after step 2 leaves a directory that is
// neither locked by a creator nor by a shim (see shimAlive), with neither
// state.json nor exit.json: its command never ran, and status removes it
// (settle), so that it does not exist either and is run again (a restarted
// worker finds no container for the pod and runs it, rather than counting a
// failure the pod did not cause). A shim still on its way then finds no
// directory, or a new one (see creationFile), and does not start the
// command. A shim that took the lock first runs the container as usual.
const stagingPrefix = ".new-"

// The container directory's file creationFile holds its staging name,
// unique to one creation; the creator passes it to the shim in creationEnv.
// A shim started for a creation whose directory was settled and removed
// must not start the command in a directory created again under the same
// id (it finds the directory by its path), so it checks it once it holds
// its lock.
const (
	creationFile = "creation"
	creationEnv  = "DROVER_SHIM_CREATION"
)

// stage builds a container directory holding cfg under a staging name, and
// returns its path and the open directory, locked exclusively.
func (r *Runtime) stage(cfg *runtimev1.ContainerConfig) (string, *os.File, error) {
	for {
		tmp, err := os.MkdirTemp(r.root, stagingPrefix)
		if err != nil {
			return "", nil, err
		}
		crashPoint("staged")
		d, err := lockDir(tmp, unix.LOCK_EX)
		if errors.Is(err, os.ErrNotExist) {
			continue // swept by a New that found it unlocked
		}
		if err != nil {
			return "", nil, err
		}
		if fi, err := os.Stat(tmp); err != nil || !sameFile(d, fi) {
			d.Close()
			continue // swept, and the name taken again
		}
		if err := os.Chmod(tmp, 0o755); err != nil {
			d.Close()
			os.RemoveAll(tmp)
			return "", nil, err
		}
		// Not visible before the rename: no need for writeFileAtomic.
		err = os.WriteFile(filepath.Join(tmp, creationFile), []byte(filepath.Base(tmp)), 0o644)
		if err == nil {
			err = writeConfig(tmp, cfg)
		}
		if err != nil {
			d.Close()
			os.RemoveAll(tmp)
			return "", nil, err
		}
		crashPoint("config")
		return tmp, d, nil
	}
}

func sameFile(f *os.File, fi os.FileInfo) bool {
	st, err := f.Stat()
	return err == nil && os.SameFile(st, fi)
}

// create makes the directory of the container cfg describes, complete with
// its config, and returns it locked by the caller (its creator) until the
// returned file is closed. ErrAlreadyExists if the id exists.
func (r *Runtime) create(dir string, cfg *runtimev1.ContainerConfig) (*os.File, error) {
	tmp, d, err := r.stage(cfg)
	if err != nil {
		return nil, fmt.Errorf("process: run: %w", err)
	}
	for retried := false; ; retried = true {
		// A rename never replaces a directory that is not empty, and a
		// container's directory is never empty.
		err = os.Rename(tmp, dir)
		if err == nil {
			crashPoint("renamed")
			return d, nil
		}
		if !retried && isHalfCreated(dir) {
			// Left by a creator that died before it wrote the config,
			// in a version that created the directory in place: no
			// container, and nothing can start one there.
			os.RemoveAll(dir)
			continue
		}
		d.Close()
		os.RemoveAll(tmp)
		if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("container %s: %w", cfg.GetId(), runtime.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("process: run: %w", err)
	}
}

// isHalfCreated reports whether dir exists without a config: never a
// container (see create).
func isHalfCreated(dir string) bool {
	if _, err := os.Stat(dir); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, configFile))
	return errors.Is(err, os.ErrNotExist)
}

// lockDir opens dir and flocks it with how (LOCK_EX or LOCK_SH, with
// LOCK_NB to fail with EWOULDBLOCK rather than wait).
func lockDir(dir string, how int) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(d.Fd()), how); err != nil {
		d.Close()
		return nil, fmt.Errorf("flock %s: %w", dir, err)
	}
	return d, nil
}

// sweepStaging removes the staging directories of creators that died.
func sweepStaging(root string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		p := filepath.Join(root, e.Name())
		d, err := lockDir(p, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // being built, or gone
		}
		os.RemoveAll(p)
		d.Close()
	}
}

// settle decides a container that has no exit.json and no running shim:
// if its creator still holds its directory (the shim is being started) it
// reports false. Otherwise the creator died: unless a shim has started the
// command meanwhile, it removes the container, which never ran, and reports
// true. Either way true means: read the state again.
func settle(dir string) (bool, error) {
	d, err := lockDir(dir, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return true, nil // removed meanwhile
	}
	if err != nil {
		return false, err
	}
	defer d.Close()
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil // removed meanwhile
	}
	if err != nil {
		return false, err
	}
	defer lock.Close()
	err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil // a shim has just started: it records the rest
	}
	if err != nil {
		return false, fmt.Errorf("flock %s: %w", lock.Name(), err)
	}
	if !sameDir(d, dir) || startedOrSettled(dir) {
		return true, nil
	}
	// Out of the way at once (an id is never a staging name), then gone;
	// New sweeps what a crash here leaves.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), stagingPrefix+"gone-")
	if err != nil {
		return false, err
	}
	if err := os.Rename(dir, filepath.Join(tmp, "c")); err != nil {
		os.Remove(tmp)
		return false, err
	}
	os.RemoveAll(tmp)
	return true, nil
}

// sameDir reports whether the open directory d is still the one at path.
func sameDir(d *os.File, path string) bool {
	fi, err := os.Stat(path)
	return err == nil && sameFile(d, fi)
}

// startedOrSettled reports whether a shim has started the container's
// command (state.json) or its outcome is recorded (exit.json): a shim that
// finds either must not start the command.
func startedOrSettled(dir string) bool {
	for _, f := range []string{stateFile, exitFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// shimMayStart reports why the shim of dir, which holds the shim lock, must
// not start the command: "" if it may.
func shimMayStart(dir string) string {
	if want := os.Getenv(creationEnv); want != "" {
		if got, _ := os.ReadFile(filepath.Join(dir, creationFile)); string(got) != want {
			return "the container was removed and created again since this shim was started"
		}
	}
	if startedOrSettled(dir) {
		return "the container was started or settled before this shim"
	}
	return ""
}

// creationEnvOf is the shim's environment entry naming dir's creation.
func creationEnvOf(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, creationFile))
	if err != nil {
		return nil
	}
	return []string{creationEnv + "=" + string(b)}
}

// crashAt, set only by tests (see export_test.go), names a step of container
// creation at which the process kills itself with SIGKILL.
var crashAt string

// crashPoint kills the process at step if a test asked for it.
func crashPoint(step string) {
	if crashAt != "" && crashAt == step {
		unix.Kill(os.Getpid(), unix.SIGKILL)
		time.Sleep(time.Hour) // the signal is on its way
	}
}
