package worker

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/worker/runtime"
)

// Labels the worker puts on its containers, so that after a restart it
// finds them with ListContainers (SPEC N3).
const (
	LabelNode         = "drover.node"
	LabelPodUID       = "drover.pod-uid"
	LabelPodNamespace = "drover.pod-namespace"
	LabelPodName      = "drover.pod-name"
	LabelContainer    = "drover.container"
	LabelAttempt      = "drover.attempt"
)

// Container restart backoff for restartPolicy OnFailure: 10 s, doubling,
// capped at 5 minutes.
const (
	restartBackoffBase = 10 * time.Second
	restartBackoffMax  = 5 * time.Minute
)

// DefaultTerminationGracePeriod applies when a pod sets none.
const DefaultTerminationGracePeriod = 30 * time.Second

// restartBackoff is the wait before restart number n (1, 2, ...) of a
// failed container: 10 s, 20 s, 40 s ... capped at 5 minutes.
func restartBackoff(n int) time.Duration {
	d := restartBackoffBase
	for i := 1; i < n; i++ {
		d *= 2
		if d >= restartBackoffMax {
			return restartBackoffMax
		}
	}
	return d
}

// statusRetry is the wait before retrying a failed status write.
const statusRetry = time.Second

// ContainerID is the runtime id of attempt (0 for the first run, n for the
// n-th restart) of a pod's container. Container names cannot hold '.', so
// ids never collide.
func ContainerID(podUID, container string, attempt int) string {
	if attempt == 0 {
		return podUID + "-" + container
	}
	return podUID + "-" + container + "." + strconv.Itoa(attempt)
}

// ctr is one of a pod's containers, as its pod worker tracks it.
type ctr struct {
	spec    *v1.Container
	attempt int                      // current attempt; -1 before the first
	info    *runtimev1.ContainerInfo // current attempt's last known state
	prev    *runtimev1.ContainerInfo // previous attempt's final state
	waiting bool                     // a waiter watches the current attempt
	// restartAt is when a pending restart is due (zero: none).
	restartAt time.Time
}

// podWorker owns one pod (by uid) on this node: it starts its containers,
// waits for them, restarts them (OnFailure), stops them (deletion, deadline,
// fence) and writes the pod's status. One goroutine runs it, plus one waiter
// goroutine per running container; all end when run returns.
type podWorker struct {
	m          *podManager
	lg         *zap.Logger
	uid        string
	namespace  string
	name       string
	clock      clock.WithTicker
	rt         runtime.Backend
	wake       chan struct{}
	background sync.WaitGroup

	// Mailbox, written by the manager and the waiters.
	mu      sync.Mutex
	pod     *v1.Pod
	deleted bool
	cleaned bool
	fenced  bool
	exits   map[string]*runtimev1.ContainerInfo // by container id

	// Owned by run.
	ctrs      []*ctr
	startTime time.Time
	noStart   bool
	startDue  time.Time // when a start that failed is tried again (zero: none)
	cause     string
	stopSent  bool
	written   *v1.PodStatus // last status written (built against nil)
	// known is the pod as last known stored, with the mod revision it was
	// read or written at (nil: unknown, read it). A fresh assignment sets
	// it to the pod as bound; every status write and every newer
	// assignment moves it (the controller writes a bound pod and its
	// assignment in one transaction, with the same value, so an assignment
	// at revision R is the pod as stored at R). Status writes swap
	// against it instead of reading the pod first (writeStatus).
	known     *v1.Pod
	retryAt   time.Time
	finalized bool
	// running is set while the pod counts in the running-pods gauge.
	running bool
}

func newPodWorker(m *podManager, pod *v1.Pod) *podWorker {
	md := pod.GetMetadata()
	p := &podWorker{
		m: m, uid: md.GetUid(), namespace: md.GetNamespace(), name: md.GetName(),
		lg:    podLogger(m.lg, pod),
		clock: m.clock, rt: m.rt,
		wake:  make(chan struct{}, 1),
		pod:   pod,
		exits: map[string]*runtimev1.ContainerInfo{},
	}
	for _, c := range pod.GetSpec().GetContainers() {
		p.ctrs = append(p.ctrs, &ctr{spec: c, attempt: -1})
	}
	return p
}

// podLogger adds the pod and, if it has one, its Job to lg.
func podLogger(lg *zap.Logger, pod *v1.Pod) *zap.Logger {
	md := pod.GetMetadata()
	lg = lg.With(zap.String("pod", md.GetNamespace()+"/"+md.GetName()))
	if job := md.GetLabels()["job-name"]; job != "" {
		lg = lg.With(zap.String("job", job))
	}
	return lg
}

func (p *podWorker) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// update delivers a new version of the assignment.
func (p *podWorker) update(pod *v1.Pod) {
	p.mu.Lock()
	p.pod = pod
	p.mu.Unlock()
	p.poke()
}

// remove tells the worker that the assignment is gone.
func (p *podWorker) remove() {
	p.mu.Lock()
	p.deleted = true
	p.mu.Unlock()
	p.poke()
}

// fence tells the worker that the node fenced: its containers are being
// killed and must not start again.
func (p *podWorker) fence() {
	p.mu.Lock()
	p.fenced = true
	p.mu.Unlock()
	p.poke()
}

// run drives the pod until it is finished (terminal status written, or not
// to be written), or its assignment is deleted and it has removed the
// containers, or ctx ends.
func (p *podWorker) run(ctx context.Context) {
	defer p.background.Wait()
	defer p.countRunning(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := retry(ctx, p.clock, func() error { return p.init(ctx) }); err != nil {
		return
	}
	for {
		done, next := p.sync(ctx)
		if done {
			if p.m.finish(p) {
				return
			}
			continue // deleted meanwhile: clean up
		}
		var fire <-chan time.Time
		var t clock.Timer
		if !next.IsZero() {
			wait := next.Sub(p.clock.Now())
			if wait <= 0 {
				continue
			}
			t = p.clock.NewTimer(wait)
			fire = t.C()
		}
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-fire:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// retry runs fn until it succeeds or ctx ends, backing off from 200 ms to 7 s.
func retry(ctx context.Context, clk clock.Clock, fn func() error) error {
	for n := 1; ; n++ {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clk.After(renewBackoff(n)):
		}
	}
}

// init finds the pod's existing containers and its stored status.
func (p *podWorker) init(ctx context.Context) error {
	infos, err := p.rt.List(ctx, map[string]string{LabelPodUID: p.uid})
	if err != nil {
		return err
	}
	byName := map[string][]*runtimev1.ContainerInfo{}
	for _, info := range infos {
		byName[info.GetLabels()[LabelContainer]] = append(byName[info.GetLabels()[LabelContainer]], info)
	}
	for _, c := range p.ctrs {
		attempts := byName[c.spec.GetName()]
		sort.Slice(attempts, func(i, j int) bool { return attemptOf(attempts[i]) > attemptOf(attempts[j]) })
		if len(attempts) == 0 {
			continue
		}
		c.info = attempts[0]
		c.attempt = attemptOf(c.info)
		if len(attempts) > 1 {
			c.prev = attempts[1]
		}
		if !exited(c.info) {
			p.watch(ctx, c)
		}
	}
	if p.known != nil {
		// A fresh assignment: the pod is as bound, not started, not
		// terminal, and this worker has not run it before.
		return nil
	}
	stored, err := p.m.st.Pods().Get(ctx, p.namespace, p.name)
	switch {
	case err == nil && stored.GetMetadata().GetUid() == p.uid:
		p.known = stored
		if t := stored.GetStatus().GetStartTime(); t != nil {
			p.startTime = t.AsTime()
		}
		if IsTerminal(stored.GetStatus().GetPhase()) {
			p.noStart = true
			p.cause = causeTerminal
		}
	case err == nil || isNotFound(err):
		// The pod is gone or replaced; its assignment will go too.
		p.noStart = true
	default:
		return err
	}
	return nil
}

func attemptOf(info *runtimev1.ContainerInfo) int {
	n, _ := strconv.Atoi(info.GetLabels()[LabelAttempt])
	return n
}

// watch starts a waiter for c's current attempt.
func (p *podWorker) watch(ctx context.Context, c *ctr) {
	if c.waiting {
		return
	}
	c.waiting = true
	id := c.info.GetId()
	p.background.Add(1)
	go func() {
		defer p.background.Done()
		var info *runtimev1.ContainerInfo
		err := retry(ctx, p.clock, func() error {
			var err error
			info, err = p.rt.Wait(ctx, id)
			if errors.Is(err, runtime.ErrNotFound) {
				info = &runtimev1.ContainerInfo{Id: id, State: runtimev1.ContainerState_CONTAINER_STATE_EXITED,
					ExitCode: 255, Reason: "Unknown", Message: "the container disappeared"}
				return nil
			}
			return err
		})
		if err != nil {
			return
		}
		p.mu.Lock()
		p.exits[id] = info
		p.mu.Unlock()
		p.poke()
	}()
}

// sync moves the pod one step towards what it should be, and reports whether
// it is finished, or else when it wants to run again (zero: on the next wake).
func (p *podWorker) sync(ctx context.Context) (done bool, next time.Time) {
	p.mu.Lock()
	pod, deleted, fenced := p.pod, p.deleted, p.fenced
	for _, c := range p.ctrs {
		if info, ok := p.exits[c.info.GetId()]; ok && c.info != nil {
			c.info = mergeExit(c.info, info)
			c.waiting = false
			delete(p.exits, c.info.GetId())
		}
	}
	p.mu.Unlock()
	p.learn(pod)

	if deleted {
		p.cleanup(ctx)
		return true, time.Time{}
	}
	now := p.clock.Now()
	spec := pod.GetSpec()
	if p.cause == causeNone {
		switch {
		case fenced:
			p.cause = causeFenced
		case pod.GetMetadata().GetDeletionTimestamp() != nil:
			p.cause = causeTerminating
		case p.pastDeadline(spec, now):
			p.cause = causeDeadline
		}
	}
	if p.cause != causeNone {
		p.noStart = true
		p.stop(ctx, spec)
		p.neverStarted()
	} else if !p.noStart {
		p.startContainers(ctx, pod, now)
	}

	v := p.view(now)
	if err := p.report(ctx, v, now); err != nil {
		next = now.Add(statusRetry)
	}
	if v.done() && p.finalized {
		return true, time.Time{}
	}
	for _, c := range p.ctrs {
		if !c.restartAt.IsZero() && (next.IsZero() || c.restartAt.Before(next)) {
			next = c.restartAt
		}
	}
	if at := p.startDue; !at.IsZero() && p.cause == causeNone && !p.noStart && (next.IsZero() || at.Before(next)) {
		next = at
	}
	if p.cause == causeNone && !p.startTime.IsZero() && spec.ActiveDeadlineSeconds != nil {
		dl := p.startTime.Add(time.Duration(spec.GetActiveDeadlineSeconds()) * time.Second)
		if next.IsZero() || dl.Before(next) {
			next = dl
		}
	}
	return false, next
}

// mergeExit returns the final state info, keeping what the running state
// knew if the final one lacks it.
func mergeExit(cur, final *runtimev1.ContainerInfo) *runtimev1.ContainerInfo {
	if final.GetLabels() == nil {
		final.Labels = cur.GetLabels()
	}
	if final.GetStartedAtUnixNano() == 0 {
		final.StartedAtUnixNano = cur.GetStartedAtUnixNano()
	}
	return final
}

func (p *podWorker) pastDeadline(spec *v1.PodSpec, now time.Time) bool {
	if spec.ActiveDeadlineSeconds == nil || p.startTime.IsZero() {
		return false
	}
	return !now.Before(p.startTime.Add(time.Duration(spec.GetActiveDeadlineSeconds()) * time.Second))
}

// stop stops the running containers once: gracefully (SIGTERM, then SIGKILL
// after terminationGracePeriodSeconds) for a deletion or a deadline, at once
// for a fence or a pod that is already terminal. The stops run in the
// background; their waiters report the exits.
func (p *podWorker) stop(ctx context.Context, spec *v1.PodSpec) {
	for _, c := range p.ctrs {
		c.restartAt = time.Time{}
	}
	if p.stopSent {
		return
	}
	p.stopSent = true
	grace := DefaultTerminationGracePeriod
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(spec.GetTerminationGracePeriodSeconds()) * time.Second
	}
	if p.cause == causeFenced || p.cause == causeTerminal {
		grace = 0
	}
	p.lg.Info("stopping pod", zap.String("cause", p.cause), zap.Duration("grace", grace))
	for _, c := range p.ctrs {
		if c.info == nil || exited(c.info) {
			continue
		}
		id := c.info.GetId()
		p.watch(ctx, c)
		p.background.Add(1)
		go func() {
			defer p.background.Done()
			err := retry(ctx, p.clock, func() error {
				_, err := p.rt.Stop(ctx, id, grace)
				if errors.Is(err, runtime.ErrNotFound) {
					return nil
				}
				return err
			})
			if err != nil && ctx.Err() == nil {
				p.lg.Warn("cannot stop container", zap.String("container", id), zap.Error(err))
			}
		}()
	}
}

// neverStarted gives every container that was never created, and now never
// will be (the pod is stopping), a final state, so that the pod can end
// (SPEC J11, P2): without one a pod deleted, fenced or past its deadline
// before its containers were created would stay Pending, and Terminating,
// for good. The state is Kubernetes' for a container that was never run:
// terminated, exit code 137, reason ContainerStatusUnknown.
func (p *podWorker) neverStarted() {
	for _, c := range p.ctrs {
		if c.info != nil {
			continue
		}
		now := p.clock.Now().UnixNano()
		c.info = &runtimev1.ContainerInfo{
			State: runtimev1.ContainerState_CONTAINER_STATE_EXITED, ExitCode: ExitCodeNeverStarted,
			Reason: ReasonNeverStarted, FinishedAtUnixNano: now,
			Message: "the pod was stopped (" + p.cause + ") before this container was created",
		}
		c.restartAt = time.Time{}
	}
}

// startContainers starts the containers that have not run yet, and restarts
// exited ones whose backoff has passed: failed ones with restartPolicy
// OnFailure, every one with Always (DaemonSet pods, SPEC D1).
func (p *podWorker) startContainers(ctx context.Context, pod *v1.Pod, now time.Time) {
	onFailure := pod.GetSpec().GetRestartPolicy() == "OnFailure"
	always := pod.GetSpec().GetRestartPolicy() == "Always"
	p.startDue = time.Time{}
	for _, c := range p.ctrs {
		switch {
		case c.info == nil:
			p.start(ctx, pod, c, 0)
		case exited(c.info) && (always || onFailure && failed(c.info)):
			if c.restartAt.IsZero() {
				c.restartAt = restartDue(c, now)
			}
			if !now.Before(c.restartAt) {
				p.start(ctx, pod, c, c.attempt+1)
			}
		}
		// An attempt that exited before start returned must not look
		// finished (a terminal phase is final): schedule its restart now.
		if c.info != nil && exited(c.info) && (always || onFailure && failed(c.info)) && c.restartAt.IsZero() {
			c.restartAt = restartDue(c, now)
		}
	}
}

// restartDue is when c's next restart is due: its backoff after it
// finished, or after now if the finish time is unknown or in the future of
// the worker's clock.
func restartDue(c *ctr, now time.Time) time.Time {
	backoff := restartBackoff(c.attempt + 1)
	if f := c.info.GetFinishedAtUnixNano(); f != 0 {
		if at := time.Unix(0, f).Add(backoff); at.Before(now.Add(backoff)) {
			return at
		}
	}
	return now.Add(backoff)
}

func failed(info *runtimev1.ContainerInfo) bool {
	return info.GetExitCode() != 0 || info.GetSignal() != 0
}

// start runs attempt of c. Unless the node is fenced: then it does nothing.
func (p *podWorker) start(ctx context.Context, pod *v1.Pod, c *ctr, attempt int) {
	cfg := p.m.containerConfig(pod, c.spec, attempt)
	info, err := p.m.runContainer(ctx, cfg)
	if errors.Is(err, runtime.ErrAlreadyExists) {
		info, err = p.rt.Status(ctx, cfg.GetId())
	}
	if errors.Is(err, errFenced) {
		return
	}
	if err != nil {
		// Try again: nothing else may wake this pod worker, and a pod
		// left ContainerCreating never ends (issue 13 #1).
		p.lg.Warn("cannot start container; will try again", zap.String("container", c.spec.GetName()), zap.Error(err))
		p.startDue = p.clock.Now().Add(statusRetry)
		return
	}
	if attempt > 0 {
		// Keep the attempt before this one (for lastState and logs)
		// and drop older ones.
		if c.prev != nil {
			if err := p.rt.Remove(ctx, c.prev.GetId()); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				p.lg.Warn("cannot remove old attempt", zap.String("container", c.prev.GetId()), zap.Error(err))
			}
		}
		c.prev = c.info
		p.lg.Info("restarted container", zap.String("container", c.spec.GetName()), zap.Int("restarts", attempt))
	} else {
		p.lg.Info("started container", zap.String("container", c.spec.GetName()))
	}
	c.info, c.attempt, c.restartAt, c.waiting = info, attempt, time.Time{}, false
	if p.startTime.IsZero() {
		p.startTime = p.clock.Now()
	}
	if !exited(info) {
		p.watch(ctx, c)
	}
}

// view is the pod as seen now.
func (p *podWorker) view(now time.Time) podView {
	v := podView{startTime: p.startTime, cause: p.cause, hostIP: p.m.hostIP, runtime: p.m.runtimeName}
	for _, c := range p.ctrs {
		cv := ctrView{name: c.spec.GetName(), image: c.spec.GetImage(), info: c.info, prev: c.prev, restarts: int32(max(c.attempt, 0))}
		if !c.restartAt.IsZero() {
			cv.backoff = restartBackoff(c.attempt + 1)
		}
		v.ctrs = append(v.ctrs, cv)
	}
	return v
}

// report writes the pod status when it changed.
func (p *podWorker) report(ctx context.Context, v podView, now time.Time) error {
	if p.cause == causeTerminal {
		p.finalized = true
		return nil
	}
	built := buildStatus(nil, v, now)
	if p.written != nil && statusEqual(p.written, built) {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stored, err := writeStatus(wctx, p.m.st, p.known, p.namespace, p.name, p.uid, v, now)
	switch {
	case err == nil:
		p.known = stored
		p.written = built
		p.countRunning(built.GetPhase() == PhaseRunning)
		if m := p.m.metrics; m != nil {
			m.StatusWrites.Inc()
		}
		if IsTerminal(built.GetPhase()) {
			p.finalized = true
			p.lg.Info("pod finished", zap.String("phase", built.GetPhase()))
		}
		return nil
	case errors.Is(err, errPodTerminal):
		// Someone (the controller, for node loss) ended the pod: never
		// overwrite that, and make sure nothing of it still runs.
		p.lg.Info("pod is already terminal; not reporting", zap.String("cause", p.cause))
		p.noStart = true
		if !v.done() && p.cause != causeTerminal {
			p.cause = causeTerminal
			p.stopSent = false
			p.poke()
		}
		p.finalized = true
		return nil
	case errors.Is(err, errPodGone):
		p.noStart = true
		p.finalized = true
		return nil
	default:
		if ctx.Err() == nil {
			p.lg.Warn("cannot write pod status", zap.Error(err))
		}
		return err
	}
}

// learn takes the assignment pod as the known stored pod when it is newer
// than what the worker knows: the controller writes a bound pod and its
// assignment in the same transaction with the same value, so the
// assignment at revision R is the pod as stored at R (and if it ever were
// not, the status write's compare-and-swap would fail and read the pod).
func (p *podWorker) learn(pod *v1.Pod) {
	if pod.GetMetadata().GetUid() != p.uid {
		return
	}
	rev, err := store.Revision(pod)
	if err != nil || rev == 0 {
		return
	}
	if p.known != nil {
		if cur, err := store.Revision(p.known); err == nil && cur >= rev {
			return
		}
	}
	p.known = pod
}

// countRunning keeps the running-pods gauge in step with the phase the
// worker last reported.
func (p *podWorker) countRunning(running bool) {
	m := p.m.metrics
	if m == nil || running == p.running {
		return
	}
	p.running = running
	if running {
		m.RunningPods.Inc()
	} else {
		m.RunningPods.Dec()
	}
}

// statusEqual compares two statuses built against nil, ignoring condition
// transition times (which such statuses set to now).
func statusEqual(a, b *v1.PodStatus) bool {
	return proto.Equal(withoutTransitions(a), withoutTransitions(b))
}

func withoutTransitions(st *v1.PodStatus) *v1.PodStatus {
	c := proto.Clone(st).(*v1.PodStatus)
	for _, cond := range c.GetConditions() {
		cond.LastTransitionTime = nil
	}
	return c
}

// cleanup stops what still runs at once and removes every container of the
// pod, with its logs.
func (p *podWorker) cleanup(ctx context.Context) {
	p.lg.Info("assignment deleted: removing pod")
	if err := p.m.removePod(ctx, p.uid); err != nil && ctx.Err() == nil {
		p.lg.Warn("cannot remove pod", zap.Error(err))
	}
	p.mu.Lock()
	p.cleaned = true
	p.mu.Unlock()
}
