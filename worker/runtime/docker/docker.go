// Package docker is the runtime backend that runs containers as Docker
// containers through the Docker Engine API on its unix socket (plain HTTP and
// JSON, API v1.41). The engine keeps every container, its labels, exit code
// and log, so a restarted worker finds its containers again by label (SPEC
// N3). Images are never pulled: a container whose image is not on the engine
// exits at once with reason ImageNotFound.
//
// The dead-man switch (Fence, SPEC N4) is a timer in the backend's process:
// when it fires, every running container of the backend's scope is killed.
// It cannot outlive the process that holds it. A worker that runs in a
// container can make its pods share its PID namespace (Config.PIDContainer):
// when the worker's container dies the kernel kills them with it.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
)

// Name is the backend's name, reported in Node.status.runtime.
const Name = "docker"

// DefaultSocket is the Docker Engine's usual socket.
const DefaultSocket = "/var/run/docker.sock"

// Labels the backend adds to every container it creates, beside the
// caller's.
const (
	// LabelScope holds Config.Scope: a backend sees only its scope's
	// containers, so several workers can share one engine.
	LabelScope = "drover.runtime-scope"
	// LabelID holds the caller's container id.
	LabelID = "drover.runtime-id"
)

// Reasons and exit codes the docker backend reports beside the engine's.
const (
	ReasonCompleted     = "Completed"
	ReasonError         = "Error"
	ReasonOOMKilled     = "OOMKilled"
	ReasonStartError    = "StartError"
	ReasonImageNotFound = "ImageNotFound"

	ExitCodeStartError = 127
)

// Config configures a Runtime.
type Config struct {
	// Socket is the engine's unix socket (default DefaultSocket).
	Socket string
	// Scope is stored in every container's LabelScope label; List and
	// Fence see only the containers of this scope (required; the worker
	// uses its node name).
	Scope string
	// NamePrefix prefixes the engine's container names (default
	// "drover-"); the engine's names are unique across the engine.
	NamePrefix string
	// Network is the containers' network mode (default "none": pods get
	// only loopback); "bridge" or a network's name attaches them.
	Network string
	// PIDContainer, when set, is a container whose PID namespace every
	// container joins ("container:<PIDContainer>"): when that container's
	// first process dies the kernel kills them all. A worker running in a
	// container names itself, so its pods cannot outlive it.
	PIDContainer string
	// LogMaxSize and LogMaxFiles bound each container's log (the engine's
	// json-file driver, max-size and max-file): at most LogMaxFiles files
	// of LogMaxSize bytes (defaults runtime.DefaultLogMaxSize and
	// runtime.DefaultLogMaxFiles, SPEC W3). The engine rotates between
	// writes, so a file may pass LogMaxSize by one write.
	LogMaxSize  int64
	LogMaxFiles int
	// Logger receives the backend's logs (default: none).
	Logger *zap.Logger
	// Clock drives the fence timer (default: the real clock).
	Clock clock.WithDelayedExecution
}

// Runtime runs containers on a Docker engine. It is safe for concurrent use.
type Runtime struct {
	cfg Config
	e   *engine
	lg  *zap.Logger

	mu sync.Mutex
	// failed holds containers that could not be created (no such image):
	// the engine has no record of them.
	failed map[string]*runtimev1.ContainerInfo
	// starting holds the ids this Runtime has created and not yet started
	// (see abandoned).
	starting map[string]int
	fence    clock.Timer
	closed   bool
}

var _ runtime.Backend = (*Runtime)(nil)

// New returns a Runtime over the engine at cfg.Socket. It does not contact
// the engine; see Ping.
func New(cfg Config) (*Runtime, error) {
	if cfg.Scope == "" {
		return nil, errors.New("docker: no scope")
	}
	if cfg.Socket == "" {
		cfg.Socket = DefaultSocket
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "drover-"
	}
	if cfg.Network == "" {
		cfg.Network = "none"
	}
	if cfg.LogMaxSize == 0 {
		cfg.LogMaxSize = runtime.DefaultLogMaxSize
	}
	if cfg.LogMaxFiles == 0 {
		cfg.LogMaxFiles = runtime.DefaultLogMaxFiles
	}
	if err := runtime.CheckLogMaxSize(cfg.LogMaxSize); err != nil {
		return nil, fmt.Errorf("docker: LogMaxSize: %w", err)
	}
	if err := runtime.CheckLogMaxFiles(cfg.LogMaxFiles); err != nil {
		return nil, fmt.Errorf("docker: LogMaxFiles: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Runtime{
		cfg:    cfg,
		e:      newEngine(cfg.Socket),
		lg:     cfg.Logger.Named("docker"),
		failed: map[string]*runtimev1.ContainerInfo{},
	}, nil
}

// Ping checks that the engine answers.
func (r *Runtime) Ping(ctx context.Context) error {
	if err := r.e.ping(ctx); err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	return nil
}

// Close disarms the fence timer. Containers keep running.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.fence != nil {
		r.fence.Stop()
		r.fence = nil
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$`)

// name is the engine's name of the container with the caller's id.
func (r *Runtime) name(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("container id %q: %w", id, runtime.ErrInvalid)
	}
	return r.cfg.NamePrefix + id, nil
}

// Run creates and starts the container. An image that is not on the engine
// gives an exited container with reason ImageNotFound; a command that cannot
// start gives one with reason StartError (exit code 127).
func (r *Runtime) Run(ctx context.Context, cfg *runtimev1.ContainerConfig) (*runtimev1.ContainerInfo, error) {
	id := cfg.GetId()
	name, err := r.name(id)
	if err != nil {
		return nil, err
	}
	if cfg.GetImage() == "" {
		return nil, fmt.Errorf("container %s: no image: %w", id, runtime.ErrInvalid)
	}
	r.mu.Lock()
	_, failed := r.failed[id]
	r.mu.Unlock()
	if failed {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrAlreadyExists)
	}
	labels := map[string]string{}
	for k, v := range cfg.GetLabels() {
		labels[k] = v
	}
	labels[LabelScope] = r.cfg.Scope
	labels[LabelID] = id
	env := make([]string, 0, len(cfg.GetEnv()))
	for k, v := range cfg.GetEnv() {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	body := createBody{
		Image:      cfg.GetImage(),
		Entrypoint: cfg.GetCommand(),
		Cmd:        cfg.GetArgs(),
		Env:        env,
		WorkingDir: cfg.GetWorkingDir(),
		Hostname:   cfg.GetHostname(),
		Labels:     labels,
		HostConfig: hostConfig{
			NanoCPUs:    cfg.GetCpuMillis() * 1_000_000,
			Memory:      cfg.GetMemoryBytes(),
			NetworkMode: r.cfg.Network,
			LogConfig: logConfig{Type: "json-file", Config: map[string]string{
				"max-size": strconv.FormatInt(r.cfg.LogMaxSize, 10),
				"max-file": strconv.Itoa(r.cfg.LogMaxFiles),
			}},
		},
	}
	if r.cfg.PIDContainer != "" {
		body.HostConfig.PidMode = "container:" + r.cfg.PIDContainer
	}
	r.setStarting(id, 1)
	defer r.setStarting(id, -1)
	err = r.e.call(ctx, http.MethodPost, "/containers/create", url.Values{"name": {name}}, body, nil)
	switch {
	case statusOf(err) == http.StatusConflict:
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrAlreadyExists)
	case statusOf(err) == http.StatusNotFound:
		// The only 404 of create is a missing image: never pull.
		now := time.Now().UnixNano()
		info := &runtimev1.ContainerInfo{
			Id: id, State: runtimev1.ContainerState_CONTAINER_STATE_EXITED, Labels: cfg.GetLabels(),
			ExitCode: ExitCodeStartError, Reason: ReasonImageNotFound,
			StartedAtUnixNano: now, FinishedAtUnixNano: now,
			Message: fmt.Sprintf("image %q is not present on this node's Docker engine, and Drover never pulls: build it or `docker load` it on the node (%s)",
				cfg.GetImage(), errMessage(err)),
		}
		r.mu.Lock()
		r.failed[id] = info
		r.mu.Unlock()
		r.lg.Warn("image not found", zap.String("container", id), zap.String("image", cfg.GetImage()))
		return cloneInfo(info), nil
	case err != nil:
		return nil, fmt.Errorf("docker: create %s: %w", id, err)
	}
	if err := r.e.call(ctx, http.MethodPost, "/containers/"+name+"/start", nil, nil, nil); err != nil {
		// The engine records the failure in the container's state
		// (created, with an error): Status reports it as StartError.
		r.lg.Warn("container did not start", zap.String("container", id), zap.Error(err))
	}
	return r.Status(ctx, id)
}

func errMessage(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

func cloneInfo(info *runtimev1.ContainerInfo) *runtimev1.ContainerInfo {
	return proto.Clone(info).(*runtimev1.ContainerInfo)
}

// Status inspects the container.
func (r *Runtime) Status(ctx context.Context, id string) (*runtimev1.ContainerInfo, error) {
	name, err := r.name(id)
	if err != nil {
		return nil, err
	}
	if info := r.failedInfo(id); info != nil {
		return info, nil
	}
	var in inspect
	err = r.e.call(ctx, http.MethodGet, "/containers/"+name+"/json", nil, nil, &in)
	if statusOf(err) == http.StatusNotFound {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("docker: inspect %s: %w", id, err)
	}
	if in.Config.Labels[LabelScope] != r.cfg.Scope {
		return nil, fmt.Errorf("container %s (another scope): %w", id, runtime.ErrNotFound)
	}
	info := infoOf(id, &in)
	if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_CREATED && !r.isStarting(id) {
		return nil, r.abandoned(ctx, id, name)
	}
	return info, nil
}

func (r *Runtime) setStarting(id string, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.starting == nil {
		r.starting = map[string]int{}
	}
	if r.starting[id] += delta; r.starting[id] <= 0 {
		delete(r.starting, id)
	}
}

func (r *Runtime) isStarting(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starting[id] > 0
}

// abandoned removes a container that was created and never started by a
// Runtime of this scope that is gone (a worker that died between create
// and start; issue 13 #1), and returns ErrNotFound: it never ran, so it is
// as if it had never been created, and the worker runs it again. Left
// alone it would read as created for good: never started, never exited,
// and never removable.
func (r *Runtime) abandoned(ctx context.Context, id, name string) error {
	err := r.e.call(ctx, http.MethodDelete, "/containers/"+name, url.Values{"v": {"1"}, "force": {"1"}}, nil, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("docker: remove abandoned %s: %w", id, err)
	}
	r.lg.Info("removed a container created but never started", zap.String("container", id))
	return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
}

func (r *Runtime) failedInfo(id string) *runtimev1.ContainerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if info, ok := r.failed[id]; ok {
		return cloneInfo(info)
	}
	return nil
}

// infoOf maps the engine's view of a container to a ContainerInfo.
func infoOf(id string, in *inspect) *runtimev1.ContainerInfo {
	labels := map[string]string{}
	for k, v := range in.Config.Labels {
		if k != LabelScope && k != LabelID {
			labels[k] = v
		}
	}
	st := in.State
	info := &runtimev1.ContainerInfo{
		Id:                 id,
		Labels:             labels,
		StartedAtUnixNano:  parseTime(st.StartedAt),
		FinishedAtUnixNano: parseTime(st.FinishedAt),
	}
	switch st.Status {
	case "running", "paused", "restarting":
		info.State = runtimev1.ContainerState_CONTAINER_STATE_RUNNING
		info.Pid = st.Pid
		info.FinishedAtUnixNano = 0
	case "created":
		if st.Error == "" {
			info.State = runtimev1.ContainerState_CONTAINER_STATE_CREATED
			break
		}
		info.State = runtimev1.ContainerState_CONTAINER_STATE_EXITED
		info.ExitCode = ExitCodeStartError
		info.Reason = ReasonStartError
		info.Message = st.Error
		if info.FinishedAtUnixNano == 0 {
			info.FinishedAtUnixNano = time.Now().UnixNano()
		}
		if info.StartedAtUnixNano == 0 {
			info.StartedAtUnixNano = info.FinishedAtUnixNano
		}
	default: // exited, dead, removing
		info.State = runtimev1.ContainerState_CONTAINER_STATE_EXITED
		info.ExitCode = st.ExitCode
		switch {
		case st.OOMKilled:
			info.Reason = ReasonOOMKilled
		case st.Error != "" && st.ExitCode == ExitCodeStartError:
			info.Reason, info.Message = ReasonStartError, st.Error
		case st.ExitCode == 0:
			info.Reason = ReasonCompleted
		default:
			info.Reason = ReasonError
		}
		// The engine reports a process ended by signal N as 128+N.
		if st.ExitCode > 128 && st.ExitCode <= 128+64 {
			info.Signal = st.ExitCode - 128
		}
	}
	return info
}

// parseTime parses the engine's RFC 3339 times; its zero time is 0.
func parseTime(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return 0
	}
	return t.UnixNano()
}

// List returns the scope's containers whose labels include selector, sorted
// by id.
func (r *Runtime) List(ctx context.Context, selector map[string]string) ([]*runtimev1.ContainerInfo, error) {
	filter := map[string]string{LabelScope: r.cfg.Scope}
	for k, v := range selector {
		filter[k] = v
	}
	var ents []listEntry
	q := url.Values{"all": {"1"}, "filters": {labelFilter(filter)}}
	if err := r.e.call(ctx, http.MethodGet, "/containers/json", q, nil, &ents); err != nil {
		return nil, fmt.Errorf("docker: list: %w", err)
	}
	var out []*runtimev1.ContainerInfo
	for _, ent := range ents {
		id := ent.Labels[LabelID]
		if id == "" {
			continue
		}
		info, err := r.Status(ctx, id)
		if errors.Is(err, runtime.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	r.mu.Lock()
	for _, info := range r.failed {
		if runtime.LabelsMatch(info.GetLabels(), selector) {
			out = append(out, cloneInfo(info))
		}
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}

// Wait blocks on the engine's wait call until the container is not running,
// or ctx ends.
func (r *Runtime) Wait(ctx context.Context, id string) (*runtimev1.ContainerInfo, error) {
	for {
		info, err := r.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_EXITED {
			return info, nil
		}
		name, _ := r.name(id)
		cond := "not-running"
		if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_CREATED {
			cond = "next-exit"
		}
		err = r.e.call(ctx, http.MethodPost, "/containers/"+name+"/wait", url.Values{"condition": {cond}}, nil, nil)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if statusOf(err) == http.StatusNotFound {
			return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("docker: wait %s: %w", id, err)
		}
	}
}

// Stop stops the container through the engine: its stop signal (SIGTERM),
// then SIGKILL once grace (rounded up to whole seconds) has passed; SIGKILL at
// once when grace <= 0. It returns the exited container.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) (*runtimev1.ContainerInfo, error) {
	info, err := r.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		return info, nil
	}
	name, _ := r.name(id)
	if grace > 0 {
		secs := int64((grace + time.Second - 1) / time.Second)
		err = r.e.call(ctx, http.MethodPost, "/containers/"+name+"/stop", url.Values{"t": {strconv.FormatInt(secs, 10)}}, nil, nil)
	} else {
		err = r.kill(ctx, name)
	}
	if statusOf(err) == http.StatusNotFound {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil && statusOf(err) != http.StatusNotModified && statusOf(err) != http.StatusConflict {
		return nil, fmt.Errorf("docker: stop %s: %w", id, err)
	}
	return r.Wait(ctx, id)
}

// kill sends SIGKILL; a container that is not running (409) is no error.
func (r *Runtime) kill(ctx context.Context, name string) error {
	err := r.e.call(ctx, http.MethodPost, "/containers/"+name+"/kill", url.Values{"signal": {"SIGKILL"}}, nil, nil)
	if statusOf(err) == http.StatusConflict {
		return nil
	}
	return err
}

// Remove deletes an exited container and its log.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	info, err := r.Status(ctx, id)
	if err != nil {
		return err
	}
	if info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		return fmt.Errorf("remove %s: %w", id, runtime.ErrRunning)
	}
	r.mu.Lock()
	_, failed := r.failed[id]
	delete(r.failed, id)
	r.mu.Unlock()
	if failed {
		return nil
	}
	name, _ := r.name(id)
	err = r.e.call(ctx, http.MethodDelete, "/containers/"+name, url.Values{"v": {"1"}, "force": {"1"}}, nil, nil)
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("docker: remove %s: %w", id, err)
	}
	return nil
}

// Logs streams the container's stdout and stderr from the engine's log; see
// runtime.Backend.
func (r *Runtime) Logs(ctx context.Context, id string, follow bool, tail int64) (io.ReadCloser, error) {
	if _, err := r.Status(ctx, id); err != nil {
		return nil, err
	}
	if info := r.failedInfo(id); info != nil {
		return io.NopCloser(&emptyReader{}), nil
	}
	name, _ := r.name(id)
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "tail": {"all"}}
	if follow {
		q.Set("follow", "1")
	}
	if tail > 0 {
		q.Set("tail", strconv.FormatInt(tail, 10))
	}
	resp, err := r.e.do(ctx, http.MethodGet, "/containers/"+name+"/logs", q, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("docker: logs %s: %w", id, err)
	}
	return newDemux(resp.Body), nil
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

// Fence (re)arms the dead-man timer: unless Fence is called again within
// killAfter, every running container of the scope is killed with SIGKILL.
// The timer lives in this process (see the package comment).
func (r *Runtime) Fence(_ context.Context, killAfter time.Duration) error {
	if killAfter <= 0 {
		return fmt.Errorf("fence: %v: %w", killAfter, runtime.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("docker: fence: runtime closed")
	}
	if r.fence != nil {
		r.fence.Stop()
	}
	var t clock.Timer
	t = r.cfg.Clock.AfterFunc(killAfter, func() {
		r.mu.Lock()
		current := r.fence == t
		r.mu.Unlock()
		if current {
			r.killAll()
		}
	})
	r.fence = t
	return nil
}

// killAll kills every running container of the scope (the fence firing).
func (r *Runtime) killAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	infos, err := r.List(ctx, nil)
	if err != nil {
		r.lg.Error("fence: cannot list containers", zap.Error(err))
		return
	}
	n := 0
	for _, info := range infos {
		if info.GetState() == runtimev1.ContainerState_CONTAINER_STATE_EXITED {
			continue
		}
		name, _ := r.name(info.GetId())
		if err := r.kill(ctx, name); err != nil && statusOf(err) != http.StatusNotFound {
			r.lg.Error("fence: cannot kill container", zap.String("container", info.GetId()), zap.Error(err))
			continue
		}
		n++
	}
	r.lg.Warn("fence deadline passed: containers killed", zap.Int("killed", n))
}
