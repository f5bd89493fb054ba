// Package process is the runtime backend that runs containers as local
// processes (the image is ignored). Each container runs under a shim (see
// ShimMain) that outlives the worker, so a restarted worker finds its
// containers running and, later, their exit codes (SPEC N3). All state lives
// in files below the root directory; the Runtime keeps none in memory.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
)

// Name is the backend's name, reported in Node.status.runtime.
const Name = "process"

// pollInterval paces waiting where no event is available: a shim whose
// state is not yet readable, and following a log for new output.
const pollInterval = 100 * time.Millisecond

// Config configures a Runtime.
type Config struct {
	// Root is the directory holding one directory per container.
	Root string
	// ShimCommand is the command that runs ShimMain, to which the container
	// directory is appended; default: this executable with ShimArg.
	ShimCommand []string
	// LogMaxSize is the size at which a container's log file is rotated
	// (default runtime.DefaultLogMaxSize, at least runtime.MinLogMaxSize),
	// and LogMaxFiles the number of files kept, the current one included
	// (default runtime.DefaultLogMaxFiles): a container's log never holds
	// more than LogMaxSize*LogMaxFiles bytes (SPEC W3). They apply to
	// containers run from then on.
	LogMaxSize  int64
	LogMaxFiles int
}

// Runtime runs containers as processes under shims. It is safe for
// concurrent use, and several Runtimes (in one process or several) may share
// a root.
type Runtime struct {
	root string
	shim []string
	// logEnv passes the log bounds to the shims.
	logEnv []string
}

var _ runtime.Backend = (*Runtime)(nil)

// New returns a Runtime over cfg.Root, creating it if needed.
func New(cfg Config) (*Runtime, error) {
	if cfg.Root == "" {
		return nil, errors.New("process: no root directory")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	sweepStaging(root)
	shim := cfg.ShimCommand
	if len(shim) == 0 {
		shim = []string{"/proc/self/exe", ShimArg}
	}
	if cfg.LogMaxSize == 0 {
		cfg.LogMaxSize = runtime.DefaultLogMaxSize
	}
	if cfg.LogMaxFiles == 0 {
		cfg.LogMaxFiles = runtime.DefaultLogMaxFiles
	}
	if err := runtime.CheckLogMaxSize(cfg.LogMaxSize); err != nil {
		return nil, fmt.Errorf("process: LogMaxSize: %w", err)
	}
	if err := runtime.CheckLogMaxFiles(cfg.LogMaxFiles); err != nil {
		return nil, fmt.Errorf("process: LogMaxFiles: %w", err)
	}
	logEnv := []string{
		logMaxSizeEnv + "=" + strconv.FormatInt(cfg.LogMaxSize, 10),
		logMaxFilesEnv + "=" + strconv.Itoa(cfg.LogMaxFiles),
	}
	return &Runtime{root: root, shim: shim, logEnv: logEnv}, nil
}

// Root is the runtime's root directory.
func (r *Runtime) Root() string { return r.root }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$`)

func (r *Runtime) dir(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("container id %q: %w", id, runtime.ErrInvalid)
	}
	return filepath.Join(r.root, id), nil
}

// Run creates the container's directory, starts its shim and returns once
// the shim reports that the command runs or could not start.
func (r *Runtime) Run(ctx context.Context, cfg *runtimev1.ContainerConfig) (*runtimev1.ContainerInfo, error) {
	dir, err := r.dir(cfg.GetId())
	if err != nil {
		return nil, err
	}
	// The directory appears complete and locked; see create.go.
	created, err := r.create(dir, cfg)
	if err != nil {
		return nil, err
	}
	if err := r.start(ctx, dir, cfg); err != nil {
		// Record why, so that the container reads as exited, not as lost.
		recordStartError(dir, time.Now(), err)
	}
	created.Close()
	return r.Status(ctx, cfg.GetId())
}

func (r *Runtime) start(ctx context.Context, dir string, cfg *runtimev1.ContainerConfig) error {
	if err := writeConfig(dir, cfg); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	cmd := exec.Command(r.shim[0], append(r.shim[1:], dir)...)
	cmd.Env = append(os.Environ(), r.logEnv...)
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.Env = append(cmd.Env, creationEnvOf(dir)...)
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start shim: %w", err)
	}
	crashPoint("shim-started")
	// Stage 1 exits as soon as it has started stage 2.
	if err := cmd.Wait(); err != nil {
		var msg ready
		json.NewDecoder(readyR).Decode(&msg)
		return fmt.Errorf("shim: %v %s", err, msg.Error)
	}
	crashPoint("shim-exited")
	if dl, ok := ctx.Deadline(); ok {
		readyR.SetReadDeadline(dl)
	}
	var msg ready
	if err := json.NewDecoder(readyR).Decode(&msg); err != nil {
		return fmt.Errorf("shim did not report: %w", err)
	}
	if msg.Error != "" {
		return errors.New(msg.Error)
	}
	return nil
}

// Status reads the container's state from its directory.
func (r *Runtime) Status(_ context.Context, id string) (*runtimev1.ContainerInfo, error) {
	info, _, err := r.status(id)
	return info, err
}

// status returns the container's info and, while it runs, its shim's pid.
func (r *Runtime) status(id string) (*runtimev1.ContainerInfo, int, error) {
	return r.statusOnce(id, false)
}

// statusOnce is status; settledAgain says that settle has just decided the
// container, so it is read once more, not settled again.
func (r *Runtime) statusOnce(id string, settledAgain bool) (*runtimev1.ContainerInfo, int, error) {
	dir, err := r.dir(id)
	if err != nil {
		return nil, 0, err
	}
	cfg, err := readConfig(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("process: status: %w", err)
	}
	info := &runtimev1.ContainerInfo{Id: id, Labels: cfg.GetLabels(), State: runtimev1.ContainerState_CONTAINER_STATE_CREATED}
	var st startState
	if _, err := readJSON(filepath.Join(dir, stateFile), &st); err != nil {
		return nil, 0, fmt.Errorf("process: status: %w", err)
	}
	info.Pid = int64(st.Pid)
	info.StartedAtUnixNano = unixNano(st.StartedAt)
	// exit.json is written before the shim lets go of its lock, so read it
	// before and after looking at the lock.
	for i := 0; i < 2; i++ {
		var ex exitState
		ok, err := readJSON(filepath.Join(dir, exitFile), &ex)
		if err != nil {
			return nil, 0, fmt.Errorf("process: status: %w", err)
		}
		if ok {
			info.State = runtimev1.ContainerState_CONTAINER_STATE_EXITED
			info.ExitCode, info.Signal = ex.ExitCode, ex.Signal
			info.StartedAtUnixNano = unixNano(ex.StartedAt)
			info.FinishedAtUnixNano = unixNano(ex.FinishedAt)
			info.Reason, info.Message = ex.Reason, ex.Message
			return info, 0, nil
		}
		if i == 1 {
			break
		}
		alive, err := shimAlive(dir)
		if err != nil {
			return nil, 0, fmt.Errorf("process: status: %w", err)
		}
		if alive {
			if st.Pid != 0 {
				info.State = runtimev1.ContainerState_CONTAINER_STATE_RUNNING
			}
			return info, st.ShimPid, nil
		}
	}
	if st.Pid == 0 {
		// Not started: being started, or abandoned by its creator
		// (see create.go).
		if settledAgain {
			return info, 0, nil
		}
		settled, err := settle(dir)
		if err != nil {
			return nil, 0, fmt.Errorf("process: status: %w", err)
		}
		if !settled {
			return info, 0, nil
		}
		return r.statusOnce(id, true)
	}
	info.State = runtimev1.ContainerState_CONTAINER_STATE_EXITED
	info.ExitCode = ExitCodeUnknown
	info.Reason = ReasonUnknown
	info.Message = "the container's shim is gone and did not record an exit"
	return info, 0, nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// List returns the containers whose labels include selector, sorted by id.
func (r *Runtime) List(_ context.Context, selector map[string]string) ([]*runtimev1.ContainerInfo, error) {
	ents, err := os.ReadDir(r.root)
	if err != nil {
		return nil, fmt.Errorf("process: list: %w", err)
	}
	var out []*runtimev1.ContainerInfo
	for _, e := range ents {
		if !e.IsDir() || !idPattern.MatchString(e.Name()) {
			continue
		}
		info, _, err := r.status(e.Name())
		if errors.Is(err, runtime.ErrNotFound) {
			continue // removed meanwhile, or a directory that is no container
		}
		if err != nil {
			return nil, err
		}
		if runtime.LabelsMatch(info.GetLabels(), selector) {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}

// Wait blocks until the container has exited. It sleeps on a pidfd of the
// shim, which becomes readable when the shim exits.
func (r *Runtime) Wait(ctx context.Context, id string) (*runtimev1.ContainerInfo, error) {
	for {
		info, shimPid, err := r.status(id)
		if err != nil {
			return nil, err
		}
		if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_EXITED {
			return info, nil
		}
		waited := false
		if shimPid > 0 {
			waited, err = waitShim(ctx, r.dirOf(id), shimPid)
			if err != nil {
				return nil, err
			}
		}
		if !waited {
			t := time.NewTimer(pollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
	}
}

// dirOf is the directory of an id that status has already checked.
func (r *Runtime) dirOf(id string) string { return filepath.Join(r.root, id) }

// waitShim waits for the shim of dir, whose pid is shimPid, to exit. It
// reports false if it could not wait (no pidfd), so the caller polls.
func waitShim(ctx context.Context, dir string, shimPid int) (bool, error) {
	fd, err := unix.PidfdOpen(shimPid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false, nil
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// The pid could have been reused by the time the pidfd was opened;
	// a shim still holding the lock now proves that it was not.
	if alive, err := shimAlive(dir); err != nil || !alive {
		return true, nil
	}
	return waitReadable(ctx, f)
}

// waitReadable blocks until f is readable or ctx ends, through the runtime's
// poller. It reports false, at once, if f cannot be polled.
func waitReadable(ctx context.Context, f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, nil
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err != nil || n > 0
	})
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	return err == nil, nil
}

// Stop sends SIGTERM to the container's process group, SIGKILL once grace
// has passed, and waits for it to exit.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) (*runtimev1.ContainerInfo, error) {
	info, _, err := r.status(id)
	if err != nil {
		return nil, err
	}
	if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		return info, nil
	}
	pid := int(info.GetPid())
	if pid == 0 {
		// Still starting: wait for it to run, then stop it.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollInterval):
		}
		return r.Stop(ctx, id, grace)
	}
	if grace > 0 {
		signalGroup(pid, unix.SIGTERM)
		gctx, cancel := context.WithTimeout(ctx, grace)
		info, err := r.Wait(gctx, id)
		cancel()
		if err == nil {
			return info, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	signalGroup(pid, unix.SIGKILL)
	return r.Wait(ctx, id)
}

// signalGroup signals the container's process group, and its main process
// in case that left the group.
func signalGroup(pid int, sig unix.Signal) {
	unix.Kill(-pid, sig)
	unix.Kill(pid, sig)
}

// Remove deletes an exited container's directory.
func (r *Runtime) Remove(_ context.Context, id string) error {
	info, _, err := r.status(id)
	if err != nil {
		return err
	}
	if info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		return fmt.Errorf("remove %s: %w", id, runtime.ErrRunning)
	}
	if err := os.RemoveAll(r.dirOf(id)); err != nil {
		return fmt.Errorf("process: remove: %w", err)
	}
	return nil
}

// Fence sets the dead-man switch: every shim kills its command once
// killAfter has passed on the boot clock without another Fence.
func (r *Runtime) Fence(_ context.Context, killAfter time.Duration) error {
	if killAfter <= 0 {
		return fmt.Errorf("fence: %v: %w", killAfter, runtime.ErrInvalid)
	}
	if err := writeFence(r.root, bootNow()+killAfter); err != nil {
		return fmt.Errorf("process: fence: %w", err)
	}
	return nil
}

// Logs opens the container's log; see runtime.Backend. It reads the whole
// log that is kept, the rotated files then the current one, oldest first;
// following continues across rotations.
func (r *Runtime) Logs(ctx context.Context, id string, follow bool, tail int64) (io.ReadCloser, error) {
	if _, _, err := r.status(id); err != nil {
		return nil, err
	}
	exited := func() bool {
		info, _, err := r.status(id)
		return err != nil || info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_EXITED
	}
	rc, err := openLog(ctx, r.dirOf(id), follow, tail, exited)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("process: logs: %w", err)
	}
	return rc, nil
}
