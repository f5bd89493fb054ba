// Package fake is the runtime backend of hollow nodes: containers "run" for
// a configured duration and exit with a configured code, without any
// process. One Runtime is a few maps and timers, so that one process can act
// as thousands of nodes for scale tests and benchmarks.
//
// A container's env may override the runtime's settings: DROVER_FAKE_DURATION
// (a Go duration) and DROVER_FAKE_EXIT_CODE (an integer), so that one Job
// spec decides how its pods behave on generic hollow nodes.
package fake

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
)

// Name is the backend's name, reported in Node.status.runtime.
const Name = "fake"

// Env variables of a container that override Config for it.
const (
	EnvDuration = "DROVER_FAKE_DURATION"
	EnvExitCode = "DROVER_FAKE_EXIT_CODE"
)

// Config says how fake containers behave.
type Config struct {
	// Duration is how long a container runs; 0 exits at once (Run returns
	// the container already exited).
	Duration time.Duration
	// ExitCode is the exit code of a container that does not fail.
	ExitCode int32
	// FailRatio in [0,1] is the share of containers that exit with
	// FailExitCode instead. The choice is a hash of the container id, so a
	// run is reproducible.
	FailRatio float64
	// FailExitCode is the code of a failing container (default 1).
	FailExitCode int32
	// Clock times the containers and the fence (default the real clock).
	Clock clock.WithDelayedExecution
}

// Runtime is a fake runtime; safe for concurrent use.
type Runtime struct {
	cfg Config
	clk clock.WithDelayedExecution

	mu   sync.Mutex
	ctrs map[string]*container
	// byLabel indexes the containers by label pair, so that List does not
	// walk every container a hollow node ever ran.
	byLabel  map[labelPair]labelSet
	fence    clock.Timer
	fenceGen int
}

var _ runtime.Backend = (*Runtime)(nil)

type container struct {
	info *runtimev1.ContainerInfo
	done chan struct{} // closed on exit
	exit int32         // the code it will exit with
}

// New returns a Runtime with cfg, or an error if cfg is out of range.
func New(cfg Config) (*Runtime, error) {
	if cfg.Duration < 0 {
		return nil, fmt.Errorf("fake: negative duration %v", cfg.Duration)
	}
	if cfg.FailRatio < 0 || cfg.FailRatio > 1 {
		return nil, fmt.Errorf("fake: fail ratio %v not in [0,1]", cfg.FailRatio)
	}
	if cfg.FailExitCode == 0 {
		cfg.FailExitCode = 1
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Runtime{cfg: cfg, clk: cfg.Clock, ctrs: map[string]*container{}, byLabel: map[labelPair]labelSet{}}, nil
}

// exitCode is the code container id with env exits with.
func (r *Runtime) exitCode(id string, env map[string]string) (int32, error) {
	if s, ok := env[EnvExitCode]; ok {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%w: %s=%q: %v", runtime.ErrInvalid, EnvExitCode, s, err)
		}
		return int32(n), nil
	}
	if r.cfg.FailRatio > 0 {
		h := fnv.New64a()
		h.Write([]byte(id))
		if float64(h.Sum64()%1_000_000)/1_000_000 < r.cfg.FailRatio {
			return r.cfg.FailExitCode, nil
		}
	}
	return r.cfg.ExitCode, nil
}

func (r *Runtime) duration(env map[string]string) (time.Duration, error) {
	if s, ok := env[EnvDuration]; ok {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%w: %s=%q: not a duration >= 0", runtime.ErrInvalid, EnvDuration, s)
		}
		return d, nil
	}
	return r.cfg.Duration, nil
}

// Run starts a container; with a zero duration it returns it already exited.
func (r *Runtime) Run(_ context.Context, cfg *runtimev1.ContainerConfig) (*runtimev1.ContainerInfo, error) {
	id := cfg.GetId()
	if id == "" {
		return nil, fmt.Errorf("%w: no container id", runtime.ErrInvalid)
	}
	d, err := r.duration(cfg.GetEnv())
	if err != nil {
		return nil, err
	}
	code, err := r.exitCode(id, cfg.GetEnv())
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if _, ok := r.ctrs[id]; ok {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", runtime.ErrAlreadyExists, id)
	}
	now := r.clk.Now()
	c := &container{
		info: &runtimev1.ContainerInfo{
			Id:                id,
			State:             runtimev1.ContainerState_CONTAINER_STATE_RUNNING,
			Labels:            maps.Clone(cfg.GetLabels()),
			StartedAtUnixNano: now.UnixNano(),
		},
		done: make(chan struct{}),
		exit: code,
	}
	r.ctrs[id] = c
	for k, v := range c.info.Labels {
		p := labelPair{k, v}
		set := r.byLabel[p]
		set.add(id, c)
		r.byLabel[p] = set
	}
	if d == 0 {
		r.exitLocked(c, code, 0, now)
	}
	info := proto.Clone(c.info).(*runtimev1.ContainerInfo)
	r.mu.Unlock()
	if d > 0 {
		// A fake clock runs timer callbacks under its own lock, so the
		// clock is never called with r.mu held, and the callback reads
		// no clock: the exit time is known now. A container stopped
		// early keeps its timer, whose exit is then a no-op.
		end := now.Add(d)
		r.clk.AfterFunc(d, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.exitLocked(c, c.exit, 0, end)
		})
	}
	return info, nil
}

// exitLocked ends c (once) with code or signal. Called with r.mu held.
func (r *Runtime) exitLocked(c *container, code, signal int32, now time.Time) {
	if c.info.State == runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		return
	}
	c.info.State = runtimev1.ContainerState_CONTAINER_STATE_EXITED
	c.info.FinishedAtUnixNano = now.UnixNano()
	c.info.Signal = signal
	switch {
	case signal != 0:
		c.info.ExitCode = 128 + signal
		c.info.Reason = "Error"
		c.info.Message = "stopped by signal " + strconv.Itoa(int(signal))
	case code == 0:
		c.info.ExitCode = 0
		c.info.Reason = "Completed"
	default:
		c.info.ExitCode = code
		c.info.Reason = "Error"
	}
	close(c.done)
}

// Stop ends a running container at once: with SIGTERM (15) when grace > 0,
// a fake process obeying it immediately, else SIGKILL (9).
func (r *Runtime) Stop(_ context.Context, id string, grace time.Duration) (*runtimev1.ContainerInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ctrs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	sig := int32(9)
	if grace > 0 {
		sig = 15
	}
	r.exitLocked(c, 0, sig, r.clk.Now())
	return proto.Clone(c.info).(*runtimev1.ContainerInfo), nil
}

// Status returns a container's state.
func (r *Runtime) Status(_ context.Context, id string) (*runtimev1.ContainerInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ctrs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	return proto.Clone(c.info).(*runtimev1.ContainerInfo), nil
}

// List returns the containers whose labels include every selector pair.
func (r *Runtime) List(_ context.Context, selector map[string]string) ([]*runtimev1.ContainerInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Walk the smallest set a selector pair names (an unknown pair names
	// none), or every container for an empty selector.
	var best *labelSet
	n := len(r.ctrs)
	for k, v := range selector {
		if set := r.byLabel[labelPair{k, v}]; set.len() < n || best == nil {
			best, n = &set, set.len()
		}
	}
	var out []*runtimev1.ContainerInfo
	visit := func(c *container) {
		if runtime.LabelsMatch(c.info.GetLabels(), selector) {
			out = append(out, proto.Clone(c.info).(*runtimev1.ContainerInfo))
		}
	}
	if best == nil {
		for _, c := range r.ctrs {
			visit(c)
		}
	} else {
		best.each(visit)
	}
	return out, nil
}

// Remove deletes an exited container.
func (r *Runtime) Remove(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ctrs[id]
	if !ok {
		return fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	if c.info.State != runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		return fmt.Errorf("%w: %s", runtime.ErrRunning, id)
	}
	delete(r.ctrs, id)
	for k, v := range c.info.Labels {
		p := labelPair{k, v}
		set := r.byLabel[p]
		if set.remove(id) {
			delete(r.byLabel, p)
		} else {
			r.byLabel[p] = set
		}
	}
	return nil
}

// Wait blocks until the container has exited or ctx ends.
func (r *Runtime) Wait(ctx context.Context, id string) (*runtimev1.ContainerInfo, error) {
	r.mu.Lock()
	c, ok := r.ctrs[id]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r.Status(ctx, id)
}

// Logs returns one line naming the container; with follow the reader ends
// once the container has exited.
func (r *Runtime) Logs(ctx context.Context, id string, follow bool, tail int64) (io.ReadCloser, error) {
	r.mu.Lock()
	c, ok := r.ctrs[id]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	lr := &logReader{r: strings.NewReader("fake container " + id + "\n"), closed: make(chan struct{})}
	if follow {
		lr.done, lr.ctx = c.done, ctx
	}
	return lr, nil
}

// logReader serves the fixed log line, then (when following) blocks until
// the container exits, the reader is closed or ctx ends.
type logReader struct {
	r         *strings.Reader
	done      <-chan struct{}
	ctx       context.Context
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *logReader) Read(p []byte) (int, error) {
	if n, _ := l.r.Read(p); n > 0 {
		return n, nil
	}
	if l.done != nil {
		select {
		case <-l.done:
		case <-l.closed:
			return 0, io.ErrClosedPipe
		case <-l.ctx.Done():
			return 0, l.ctx.Err()
		}
	}
	return 0, io.EOF
}

func (l *logReader) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Fence arms the dead-man switch: unless Fence is called again within
// killAfter, every running container is killed (SIGKILL, SPEC N4).
func (r *Runtime) Fence(_ context.Context, killAfter time.Duration) error {
	r.mu.Lock()
	r.fenceGen++
	gen, old := r.fenceGen, r.fence
	r.fence = nil
	r.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	at := r.clk.Now().Add(killAfter)
	t := r.clk.AfterFunc(killAfter, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fenceGen != gen {
			return // re-armed meanwhile
		}
		for _, c := range r.ctrs {
			r.exitLocked(c, 0, 9, at)
		}
	})
	r.mu.Lock()
	if r.fenceGen == gen {
		r.fence, t = t, nil
	}
	r.mu.Unlock()
	if t != nil {
		t.Stop() // re-armed while this one was made
	}
	return nil
}

// Close stops the fence timer; running containers run on until their
// duration ends. Use it when the runtime is dropped.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.fenceGen++
	old := r.fence
	r.fence = nil
	r.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	return nil
}

// labelPair is a label key and value.
type labelPair struct{ k, v string }

// labelSet is the containers that carry one label pair. Most pairs (a
// pod's uid, its name) belong to one container, which is held inline: a
// map for each of them was most of a hollow fleet's heap at the scale
// preset (docs/benchmarks.md). A map is made from the second container on.
type labelSet struct {
	one  *container
	many map[string]*container
}

func (s *labelSet) add(id string, c *container) {
	switch {
	case s.many != nil:
		s.many[id] = c
	case s.one == nil || s.one.info.GetId() == id:
		s.one = c
	default:
		s.many = map[string]*container{s.one.info.GetId(): s.one, id: c}
		s.one = nil
	}
}

// remove drops container id and reports whether the set is now empty.
func (s *labelSet) remove(id string) bool {
	if s.one != nil && s.one.info.GetId() == id {
		s.one = nil
	}
	delete(s.many, id)
	return s.len() == 0
}

func (s *labelSet) len() int {
	if s.one != nil {
		return 1
	}
	return len(s.many)
}

func (s *labelSet) each(f func(*container)) {
	if s.one != nil {
		f(s.one)
	}
	for _, c := range s.many {
		f(c)
	}
}
