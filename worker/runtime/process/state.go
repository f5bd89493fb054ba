package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
)

// A container's directory <root>/<id>/ holds everything about it, so that a
// new runtime over the same root finds every container:
//
//	config.json  the ContainerConfig (protojson), written before the shim starts
//	creation     the name the directory was built under (see create.go)
//	shim.lock    flock'd (exclusive) by the shim for its whole life
//	state.json   {pid, shimPid, startedAt}, written once the command runs
//	pid          the command's pid, for people
//	exit.json    {exitCode, signal, startedAt, finishedAt, reason, message}
//	log          the command's stdout and stderr, appended
//	work/        the command's working directory when the config has none
//
// <root>/fence holds the dead-man switch's deadline (see Fence).
const (
	configFile = "config.json"
	lockFile   = "shim.lock"
	stateFile  = "state.json"
	pidFile    = "pid"
	exitFile   = "exit.json"
	logFile    = "log"
	workDir    = "work"
	fenceFile  = "fence"
)

// Reasons and exit codes the process runtime reports.
const (
	ReasonCompleted  = "Completed"
	ReasonError      = "Error"
	ReasonStartError = "StartError"
	// ReasonUnknown is a container whose shim died without recording the
	// exit; its exit code is ExitCodeUnknown.
	ReasonUnknown = "Unknown"

	ExitCodeStartError = 127
	ExitCodeUnknown    = 255
)

// startState is state.json.
type startState struct {
	Pid       int       `json:"pid"`
	ShimPid   int       `json:"shimPid"`
	StartedAt time.Time `json:"startedAt"`
}

// exitState is exit.json.
type exitState struct {
	ExitCode   int32     `json:"exitCode"`
	Signal     int32     `json:"signal,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message,omitempty"`
}

// writeFileAtomic writes b to path through a temporary file and a rename, so
// that a reader sees all of it or nothing.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// readJSON reads path into v; ok is false when the file does not exist.
func readJSON(path string, v any) (ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

func readConfig(dir string) (*runtimev1.ContainerConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return nil, err
	}
	cfg := &runtimev1.ContainerConfig{}
	if err := protojson.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, configFile), err)
	}
	return cfg, nil
}

func writeConfig(dir string, cfg *runtimev1.ContainerConfig) error {
	b, err := protojson.Marshal(cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, configFile), b)
}

// shimAlive reports whether a shim holds dir's lock. It probes with a shared
// lock, so concurrent probes never see each other as a shim.
func shimAlive(dir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false, nil
}

// bootNow is the time since boot, suspend included: the clock the dead-man
// switch uses, shared by every process on the machine and immune to changes
// of the wall clock.
func bootNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// readFence returns the fence deadline on the boot clock; ok is false when
// no fence is armed.
func readFence(root string) (deadline time.Duration, ok bool) {
	b, err := os.ReadFile(filepath.Join(root, fenceFile))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(n), true
}

func writeFence(root string, deadline time.Duration) error {
	return writeFileAtomic(filepath.Join(root, fenceFile), []byte(strconv.FormatInt(int64(deadline), 10)+"\n"))
}
