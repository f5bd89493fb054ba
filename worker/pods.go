package worker

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/internal/metrics"
	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/worker/runtime"
)

// errFenced: a container was not started because the node is fenced.
var errFenced = errors.New("worker: fenced: not starting containers")

// resyncTimeout bounds the list calls of a resync.
const resyncTimeout = 10 * time.Second

// podManager follows the node's assignments and runs one podWorker per
// assigned pod. While the session is not active (before registration, or
// fenced) it starts nothing; when the session ends it kills every container.
type podManager struct {
	lg      *zap.Logger
	clock   clock.WithTicker
	rt      runtime.Backend
	st      *store.Store
	node    string
	hostIP  string
	sess    *session
	metrics *metrics.Worker // may be nil
	// runtimeName is the backend's name, the scheme of container ids.
	runtimeName string

	// gate orders container starts against a fence: starts hold it for
	// reading, the fence takes it for writing.
	gate   sync.RWMutex
	fenced bool
	// fencedFor is how many session ends the fencer has handled (under
	// gate); handled is closed and replaced each time it handles one.
	fencedFor uint64
	handled   chan struct{}

	// following is true while the assignments are listed and watched under
	// the current session: until then a new assignment is not seen
	// (Worker.Ready).
	following atomic.Bool

	mu    sync.Mutex
	ctx   context.Context
	pods  map[string]*podEntry // by pod uid
	byKey map[string]string    // namespace/name -> uid
	wg    sync.WaitGroup
}

// podEntry is an assigned pod: worker is nil once the pod has finished.
type podEntry struct {
	worker *podWorker
	key    string
}

func newPodManager(w *Worker, rt runtime.Backend) *podManager {
	return &podManager{
		lg:          w.cfg.Logger.Named("pods").With(zap.String("node", w.cfg.NodeName)),
		clock:       w.clock,
		rt:          rt,
		st:          w.st,
		node:        w.cfg.NodeName,
		hostIP:      w.hostIP,
		sess:        w.sess,
		metrics:     w.cfg.Metrics,
		runtimeName: w.cfg.RuntimeName,
		pods:        map[string]*podEntry{},
		byKey:       map[string]string{},
		handled:     make(chan struct{}),
	}
}

func podKey(pod *v1.Pod) string {
	return pod.GetMetadata().GetNamespace() + "/" + pod.GetMetadata().GetName()
}

// run follows the assignments until ctx ends, then waits for every pod
// worker and returns nil. Pods keep running.
func (m *podManager) run(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	defer m.wg.Wait()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.fencer(ctx)
	}()
	failures := 0
	for {
		active, ends, changed := m.sess.state()
		if !active {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		// Start nothing until the fencer has killed what ran under a
		// session that ended, even one at once replaced by a new
		// registration.
		if !m.waitFenced(ctx, ends) {
			return nil
		}
		m.unfence()
		rev, err := m.resync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			m.lg.Warn("cannot list assignments", zap.Error(err))
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
			case <-m.clock.After(renewBackoff(failures)):
			}
			continue
		}
		failures = 0
		m.following.Store(true)
		m.follow(ctx, rev, ends, changed)
		m.following.Store(false)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// follow applies assignment changes after rev until the watch fails or the
// session (which had ended ends times before) ends.
func (m *podManager) follow(ctx context.Context, rev int64, ends uint64, changed <-chan struct{}) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, werr := m.st.Assignments(m.node).Watch(wctx, "", rev)
	defer func() {
		cancel()
		for range events {
		}
		werr()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			var active bool
			var now uint64
			active, now, changed = m.sess.state()
			if !active || now != ends {
				return
			}
		case ev, ok := <-events:
			if !ok {
				if err := werr(); err != nil {
					m.lg.Warn("assignment watch ended; listing again", zap.Error(err))
				}
				return
			}
			m.handle(ev)
		}
	}
}

// fencer kills every container each time the session ends. It counts the
// ends rather than watching the active flag, so an end it wakes too late to
// see (a fence and at once a new registration, on a loaded machine) is
// still acted on.
func (m *podManager) fencer(ctx context.Context) {
	var handled uint64
	for {
		_, ends, changed := m.sess.state()
		if ends != handled {
			m.fence(ctx)
			handled = ends
			m.gate.Lock()
			m.fencedFor = ends
			close(m.handled)
			m.handled = make(chan struct{})
			m.gate.Unlock()
			if ctx.Err() != nil {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// waitFenced waits until the fencer has handled ends session ends; false if
// ctx ended first.
func (m *podManager) waitFenced(ctx context.Context, ends uint64) bool {
	for {
		m.gate.RLock()
		done, next := m.fencedFor >= ends, m.handled
		m.gate.RUnlock()
		if done {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-next:
		}
	}
}

// fence stops container starts, tells every pod worker, and kills every
// container of this node with SIGKILL.
func (m *podManager) fence(ctx context.Context) {
	m.gate.Lock()
	m.fenced = true
	m.gate.Unlock()
	m.mu.Lock()
	for _, e := range m.pods {
		if e.worker != nil {
			e.worker.fence()
		}
	}
	m.mu.Unlock()
	err := retry(ctx, m.clock, func() error {
		infos, err := m.rt.List(ctx, map[string]string{LabelNode: m.node})
		if err != nil {
			return err
		}
		var errs []error
		for _, info := range infos {
			if exited(info) {
				continue
			}
			if _, err := m.rt.Stop(ctx, info.GetId(), 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	if err == nil {
		m.lg.Warn("fenced: every container killed")
	}
}

func (m *podManager) unfence() {
	m.gate.Lock()
	m.fenced = false
	m.gate.Unlock()
}

// runContainer starts a container unless the node is fenced.
func (m *podManager) runContainer(ctx context.Context, cfg *runtimev1.ContainerConfig) (*runtimev1.ContainerInfo, error) {
	m.gate.RLock()
	defer m.gate.RUnlock()
	if m.fenced {
		return nil, errFenced
	}
	return m.rt.Run(ctx, cfg)
}

// resync lists the assignments and the node's containers and reconciles
// them (SPEC N3): assigned pods get a worker (which keeps what runs and
// starts what should), containers of pods no longer assigned are stopped at
// once and removed. It returns the revision of the list.
func (m *podManager) resync(ctx context.Context) (int64, error) {
	lctx, cancel := context.WithTimeout(ctx, resyncTimeout)
	defer cancel()
	pods, rev, err := m.st.Assignments(m.node).List(lctx, "")
	if err != nil {
		return 0, err
	}
	infos, err := m.rt.List(lctx, map[string]string{LabelNode: m.node})
	if err != nil {
		return 0, err
	}
	assigned := map[string]*v1.Pod{}
	for _, pod := range pods {
		assigned[pod.GetMetadata().GetUid()] = pod
	}
	m.mu.Lock()
	for _, pod := range pods {
		m.ensure(pod)
	}
	for uid, e := range m.pods {
		if _, ok := assigned[uid]; ok {
			continue
		}
		m.forget(uid, e)
	}
	orphans := map[string]bool{}
	for _, info := range infos {
		uid := info.GetLabels()[LabelPodUID]
		if _, ok := m.pods[uid]; !ok {
			orphans[uid] = true
		}
	}
	for uid := range orphans {
		m.lg.Info("removing containers of a pod no longer assigned", zap.String("pod_uid", uid))
		m.goRemove(uid)
	}
	m.mu.Unlock()
	m.lg.Info("assignments listed", zap.Int("pods", len(pods)), zap.Int("containers", len(infos)), zap.Int64("revision", rev))
	return rev, nil
}

// handle applies one assignment change.
func (m *podManager) handle(ev store.WatchEvent[*v1.Pod]) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pod := ev.Object
	uid := pod.GetMetadata().GetUid()
	switch ev.Type {
	case store.Added:
		m.ensureFresh(pod, true)
	case store.Modified:
		m.ensure(pod)
	case store.Deleted:
		if e, ok := m.pods[uid]; ok {
			m.forget(uid, e)
		} else {
			m.goRemove(uid)
		}
	}
}

// ensure makes sure the assigned pod has a worker (or has finished), and
// hands it the new version. Called with m.mu held.
func (m *podManager) ensure(pod *v1.Pod) { m.ensureFresh(pod, false) }

// ensureFresh is ensure; fresh says that the assignment was just created
// (a watch event after the list this worker resynced from), so the pod is
// exactly as it was bound and this worker has never run it: its worker need
// not read the stored pod before it starts (see podWorker.known).
func (m *podManager) ensureFresh(pod *v1.Pod, fresh bool) {
	uid := pod.GetMetadata().GetUid()
	key := podKey(pod)
	if uid == "" {
		m.lg.Error("assigned pod has no uid; ignoring it", zap.String("pod", key))
		return
	}
	if old, ok := m.byKey[key]; ok && old != uid {
		// Another pod of the same name replaced this assignment.
		if e, ok := m.pods[old]; ok {
			m.forget(old, e)
		}
	}
	m.byKey[key] = uid
	if e, ok := m.pods[uid]; ok {
		if e.worker != nil {
			e.worker.update(pod)
		}
		return
	}
	p := newPodWorker(m, pod)
	if fresh {
		p.known = pod
	}
	m.pods[uid] = &podEntry{worker: p, key: key}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		p.run(m.ctx)
	}()
}

// forget handles a withdrawn assignment. Called with m.mu held.
func (m *podManager) forget(uid string, e *podEntry) {
	if m.byKey[e.key] == uid {
		delete(m.byKey, e.key)
	}
	if e.worker != nil {
		e.worker.remove() // it cleans up, then finish drops the entry
		return
	}
	delete(m.pods, uid)
	m.goRemove(uid)
}

// goRemove stops and removes a pod's containers in the background. Called
// with m.mu held.
func (m *podManager) goRemove(uid string) {
	if uid == "" {
		return
	}
	ctx := m.ctx
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		err := retry(ctx, m.clock, func() error { return m.removePod(ctx, uid) })
		if err != nil && ctx.Err() == nil {
			m.lg.Warn("cannot remove pod", zap.String("pod_uid", uid), zap.Error(err))
		}
	}()
}

// removePod kills and removes every container of the pod uid.
func (m *podManager) removePod(ctx context.Context, uid string) error {
	infos, err := m.rt.List(ctx, map[string]string{LabelPodUID: uid})
	if err != nil {
		return err
	}
	for _, info := range infos {
		if !exited(info) {
			if _, err := m.rt.Stop(ctx, info.GetId(), 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return err
			}
		}
		if err := m.rt.Remove(ctx, info.GetId()); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	return nil
}

// finish is called by a pod worker that is done. It reports false if the
// assignment was deleted but the worker has not cleaned up yet (it must
// run again), true otherwise, after dropping or marking the entry.
func (m *podManager) finish(p *podWorker) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p.mu.Lock()
	deleted, cleaned := p.deleted, p.cleaned
	p.mu.Unlock()
	if deleted && !cleaned {
		return false
	}
	e, ok := m.pods[p.uid]
	if !ok || e.worker != p {
		return true
	}
	if deleted {
		delete(m.pods, p.uid)
	} else {
		e.worker = nil
	}
	return true
}

// containerConfig is the runtime config of attempt of container c of pod.
func (m *podManager) containerConfig(pod *v1.Pod, c *v1.Container, attempt int) *runtimev1.ContainerConfig {
	md := pod.GetMetadata()
	hostname := pod.GetSpec().GetHostname()
	if hostname == "" {
		hostname = md.GetName()
	}
	env := map[string]string{}
	for _, e := range c.GetEnv() {
		env[e.GetName()] = e.GetValue()
	}
	env["HOSTNAME"] = hostname
	env["DROVER_POD_NAME"] = md.GetName()
	env["DROVER_POD_NAMESPACE"] = md.GetNamespace()
	env["DROVER_NODE_NAME"] = m.node
	return &runtimev1.ContainerConfig{
		Id:         ContainerID(md.GetUid(), c.GetName(), attempt),
		Name:       c.GetName(),
		Image:      c.GetImage(),
		Command:    c.GetCommand(),
		Args:       c.GetArgs(),
		Env:        env,
		WorkingDir: c.GetWorkingDir(),
		Hostname:   hostname,
		Labels: map[string]string{
			LabelNode:         m.node,
			LabelPodUID:       md.GetUid(),
			LabelPodNamespace: md.GetNamespace(),
			LabelPodName:      md.GetName(),
			LabelContainer:    c.GetName(),
			LabelAttempt:      strconv.Itoa(attempt),
		},
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
