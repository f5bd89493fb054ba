package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
)

// ShimArg is the argument that selects the shim: the runtime runs
// `<ShimCommand...> <container dir>`, by default `/proc/self/exe __shim <dir>`.
const ShimArg = "__shim"

// Environment of the shim's two stages.
const (
	stageEnv  = "DROVER_SHIM_STAGE"
	newUTSEnv = "DROVER_SHIM_NEWUTS"
	// readyFD is the descriptor of the pipe on which the shim reports that
	// the command runs (or could not start), then closes.
	readyFD = 3
)

// fencePoll is the longest the shim goes without re-reading the fence file.
const fencePoll = time.Second

// ready is the one message the shim writes on the ready pipe.
type ready struct {
	Error string `json:"error,omitempty"`
}

// ShimMain runs the shim for the container directory dir and returns the
// process exit code. The runtime starts it as `drover __shim <dir>`, in two
// stages: the first starts the second in a new session and exits at once, so
// that the shim is re-parented to init and outlives the worker (SPEC N3); the
// second starts the container's command in its own process group, records its
// pid, waits for it and records its exit in exit.json. Binaries that run the
// process runtime must call ShimMain when their first argument is ShimArg
// (tests do it from TestMain).
func ShimMain(dir string) int {
	if os.Getenv(stageEnv) == "2" {
		return shimStage2(dir)
	}
	return shimStage1(dir)
}

func shimStage1(dir string) int {
	unix.CloseOnExec(readyFD)
	readyW := os.NewFile(readyFD, "ready")
	fail := func(err error) int {
		if readyW != nil {
			json.NewEncoder(readyW).Encode(ready{Error: err.Error()})
		}
		return 1
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return fail(fmt.Errorf("shim: %w", err))
	}
	crashPoint("shim1")
	start := func(newUTS bool) error {
		cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
		cmd.Env = append(os.Environ(), stageEnv+"=2")
		cmd.ExtraFiles = []*os.File{readyW}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if newUTS {
			cmd.Env = append(cmd.Env, newUTSEnv+"=1")
			cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUTS
		}
		return cmd.Start() // not waited for: stage 1 exits now
	}
	// A UTS namespace gives the container its own hostname; it needs
	// CAP_SYS_ADMIN, so without it the container shares the machine's.
	if cfg.GetHostname() != "" && os.Geteuid() == 0 {
		if err := start(true); err == nil {
			return 0
		}
	}
	if err := start(false); err != nil {
		return fail(fmt.Errorf("shim: start: %w", err))
	}
	return 0
}

func shimStage2(dir string) int {
	unix.CloseOnExec(readyFD)
	readyW := os.NewFile(readyFD, "ready")
	report := func(err error) {
		if readyW == nil {
			return
		}
		r := ready{}
		if err != nil {
			r.Error = err.Error()
		}
		json.NewEncoder(readyW).Encode(r)
		readyW.Close()
		readyW = nil
	}
	defer report(errors.New("shim: exited before the command started"))

	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		report(fmt.Errorf("shim: %w", err))
		return 1
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		report(fmt.Errorf("shim: lock: %w", err))
		return 1
	}
	crashPoint("shim2-locked")
	if why := shimMayStart(dir); why != "" {
		// Settled while this shim was on its way (its creator died), or
		// run by another shim: never start the command (see create.go).
		report(errors.New("shim: " + why))
		return 1
	}
	// Signals sent to the shim (there should be none: it has its own
	// session) must not kill it before it records the exit. Caught, not
	// ignored, so that the command does not inherit an ignored disposition.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGPIPE, unix.SIGQUIT)
	go func() {
		for range sigs {
		}
	}()

	cfg, err := readConfig(dir)
	if err != nil {
		recordStartError(dir, time.Now(), err)
		report(nil)
		return 0
	}
	if os.Getenv(newUTSEnv) == "1" {
		unix.Sethostname([]byte(cfg.GetHostname()))
	}
	cmd, logw, err := command(dir, cfg)
	if logw != nil {
		defer logw.Close()
	}
	startedAt := time.Now()
	// The command writes to a pipe that the shim copies to the log, which
	// it rotates (SPEC W3).
	var outR *os.File
	if err == nil {
		var outW *os.File
		if outR, outW, err = os.Pipe(); err == nil {
			cmd.Stdout, cmd.Stderr = outW, outW
			// Pdeathsig kills the command if the shim dies; it is tied to
			// the thread that forks, so keep this goroutine on its thread.
			goruntime.LockOSThread()
			err = cmd.Start()
			startedAt = time.Now()
			outW.Close()
			if err != nil {
				outR.Close()
			}
		}
	}
	if err != nil {
		if logw != nil {
			fmt.Fprintf(logw, "drover: cannot start container: %v\n", err)
		}
		recordStartError(dir, startedAt, err)
		report(nil)
		return 0
	}
	copied := copyLog(outR, logw)
	pid := cmd.Process.Pid
	crashPoint("shim2-started")
	st := startState{Pid: pid, ShimPid: os.Getpid(), StartedAt: startedAt}
	if err := writeJSON(filepath.Join(dir, stateFile), st); err != nil {
		unix.Kill(-pid, unix.SIGKILL)
		cmd.Wait()
		recordStartError(dir, startedAt, err)
		report(nil)
		return 0
	}
	writeFileAtomic(filepath.Join(dir, pidFile), []byte(strconv.Itoa(pid)+"\n"))
	report(nil)

	exited := make(chan struct{})
	fenced := make(chan bool, 1)
	go func() { fenced <- watchFence(filepath.Dir(dir), pid, exited) }()
	werr := cmd.Wait()
	finishedAt := time.Now()
	close(exited)
	// The container is its process group: whatever the command left
	// behind goes with it.
	unix.Kill(-pid, unix.SIGKILL)
	// All the output is in the log before the exit is recorded, so that a
	// follower that sees the exit reads it all; processes that left the
	// group may hold the pipe open, so only for so long.
	outR.SetReadDeadline(time.Now().Add(logDrainTimeout))
	<-copied

	ex := exitState{StartedAt: startedAt, FinishedAt: finishedAt, Reason: ReasonCompleted}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ex.Signal = int32(ws.Signal())
		ex.ExitCode = 128 + ex.Signal
	} else {
		ex.ExitCode = int32(cmd.ProcessState.ExitCode())
	}
	if ex.ExitCode != 0 {
		ex.Reason = ReasonError
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		ex.Message = werr.Error()
	}
	if <-fenced {
		ex.Message = "killed by the fence: the worker did not renew its lease in time"
	}
	if err := writeJSON(filepath.Join(dir, exitFile), ex); err != nil {
		return 1
	}
	return 0
}

// command builds the container's command: argv is command then args (as in
// Kubernetes), env from the config plus PATH and HOME from the worker unless
// set, and HOSTNAME. It also opens the log, which the caller connects to the
// command's output and closes (even with an error, if not nil).
func command(dir string, cfg *runtimev1.ContainerConfig) (*exec.Cmd, *rotatingLog, error) {
	maxSize, maxFiles := logLimitsFromEnv()
	logf, err := openRotatingLog(dir, maxSize, maxFiles)
	if err != nil {
		return nil, nil, err
	}
	argv := append(append([]string(nil), cfg.GetCommand()...), cfg.GetArgs()...)
	if len(argv) == 0 {
		return nil, logf, errors.New("no command and no args")
	}
	env := map[string]string{}
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for k, v := range cfg.GetEnv() {
		env[k] = v
	}
	if h := cfg.GetHostname(); h != "" {
		env["HOSTNAME"] = h
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	// Look the command up in the container's PATH, not the shim's.
	if filepath.Base(argv[0]) == argv[0] {
		p, err := lookPath(argv[0], env["PATH"])
		if err != nil {
			return nil, logf, err
		}
		cmd.Path, cmd.Err = p, nil
	}
	cmd.Dir = cfg.GetWorkingDir()
	if cmd.Dir == "" {
		cmd.Dir = filepath.Join(dir, workDir)
		if err := os.MkdirAll(cmd.Dir, 0o755); err != nil {
			return nil, logf, err
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd, logf, nil
}

// lookPath finds an executable file named name in path.
func lookPath(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func recordStartError(dir string, at time.Time, err error) {
	writeJSON(filepath.Join(dir, exitFile), exitState{
		ExitCode:   ExitCodeStartError,
		StartedAt:  at,
		FinishedAt: at,
		Reason:     ReasonStartError,
		Message:    err.Error(),
	})
}

// watchFence kills the process group pid once the fence deadline in root
// has passed, and reports whether it did. It returns when exited closes.
func watchFence(root string, pid int, exited <-chan struct{}) bool {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-exited:
			return false
		case <-t.C:
		}
		wait := fencePoll
		if deadline, ok := readFence(root); ok {
			left := deadline - bootNow()
			if left <= 0 {
				unix.Kill(-pid, unix.SIGKILL)
				return true
			}
			wait = min(wait, left)
		}
		t.Reset(wait)
	}
}
