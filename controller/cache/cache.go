// Package cache is the leader's in-memory view of the store, kept by one list
// and one ordered watch over the whole /drover/ prefix.
//
// Because a single etcd watch delivers events in revision order, once the
// cache holds a Job at mod revision R it has also applied every pod write up
// to R. Reconcilers rely on this: each write that creates or deletes a Job's
// pods also rewrites the Job, guarded by the Job's cached mod revision, so a
// decision taken on a stale view fails with a conflict instead of landing
// (no "expectations" bookkeeping is needed).
package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// LabelControllerUID is the pod label that ties a pod to its controller (SPEC J1).
const LabelControllerUID = "controller-uid"

// Change is one applied change; Old is nil for an add, New is nil for a delete.
// On a resync (after a relist) every object is reported with Old == New.
type Change struct {
	Old, New store.Object
}

// Handler is told of every change, in revision order, after it is applied. It
// must not block (enqueue keys and return).
type Handler func(Change)

// DefaultListPageSize is how many keys one request of the cache's list reads.
const DefaultListPageSize = 5000

// Cache holds jobs, pods, nodes, node liveness, cronjobs and daemonsets. Objects it returns are
// shared: callers must clone them (proto.Clone) before changing them.
type Cache struct {
	st *store.Store
	lg *zap.Logger

	// ListPageSize is how many keys one request of the initial list
	// reads (default DefaultListPageSize); set it before Run.
	ListPageSize int

	mu        sync.RWMutex
	rev       int64
	revCh     chan struct{}
	synced    bool
	jobs      map[string]*v1.Job
	jobsByUID map[string]*v1.Job
	pods      map[string]*v1.Pod
	byOwner   map[string]map[string]*v1.Pod
	byCtrl    map[string]map[string]*v1.Pod // by controller owner reference uid
	orphans   map[string]map[string]*v1.Pod // by namespace: pods with no controller
	// activeOnNode holds the bound pods that are not Succeeded or Failed,
	// by node: the scheduler's load, without walking finished pods.
	activeOnNode map[string]map[string]*v1.Pod
	byNode       map[string]map[string]*v1.Pod
	unbound      map[string]*v1.Pod
	nodes        map[string]*v1.Node
	heartbeats   map[string]bool
	cronJobs     map[string]*v1.CronJob
	cronByUID    map[string]*v1.CronJob
	daemonSets   map[string]*v1.DaemonSet
	dsByUID      map[string]*v1.DaemonSet
	handlers     []Handler
}

// New returns an empty cache over st.
func New(st *store.Store, lg *zap.Logger) *Cache {
	c := &Cache{st: st, lg: lg.Named("cache"), revCh: make(chan struct{})}
	c.reset()
	return c
}

func (c *Cache) reset() {
	c.jobs = map[string]*v1.Job{}
	c.jobsByUID = map[string]*v1.Job{}
	c.pods = map[string]*v1.Pod{}
	c.byOwner = map[string]map[string]*v1.Pod{}
	c.byCtrl = map[string]map[string]*v1.Pod{}
	c.orphans = map[string]map[string]*v1.Pod{}
	c.activeOnNode = map[string]map[string]*v1.Pod{}
	c.byNode = map[string]map[string]*v1.Pod{}
	c.unbound = map[string]*v1.Pod{}
	c.nodes = map[string]*v1.Node{}
	c.heartbeats = map[string]bool{}
	c.cronJobs = map[string]*v1.CronJob{}
	c.cronByUID = map[string]*v1.CronJob{}
	c.daemonSets = map[string]*v1.DaemonSet{}
	c.dsByUID = map[string]*v1.DaemonSet{}
}

// AddHandler registers h; call it before Run.
func (c *Cache) AddHandler(h Handler) { c.handlers = append(c.handlers, h) }

// Run lists and then watches until ctx ends. After a watch failure (for
// example a compacted revision) it lists again and reports a resync.
func (c *Cache) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := c.list(ctx)
		if err != nil {
			c.lg.Warn("list failed", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		err = c.watch(ctx, rev)
		if ctx.Err() == nil {
			c.lg.Warn("watch ended, listing again", zap.Error(err))
		}
	}
	return nil
}

func (c *Cache) list(ctx context.Context) (int64, error) {
	cli := c.st.Client()
	var kvs []*mvccpb.KeyValue
	var rev int64
	key := store.Root
	end := clientv3.GetPrefixRangeEnd(store.Root)
	page := c.ListPageSize
	if page <= 0 {
		page = DefaultListPageSize
	}
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(page))}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, key, opts...)
		if err != nil {
			return 0, fmt.Errorf("cache: list: %w", err)
		}
		// Every page is read at the first page's revision, and the watch
		// goes on from there. A response header holds etcd's current
		// revision, not the one read at: taking it from a later page
		// skipped every write made while listing to a key on an earlier
		// page (a node whose liveness key was written then was declared
		// lost for good, SPEC N2).
		if rev == 0 {
			rev = resp.Header.Revision
		}
		kvs = append(kvs, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	c.mu.Lock()
	c.reset()
	var changes []Change
	for _, kv := range kvs {
		if obj := c.applyPutLocked(kv); obj != nil {
			changes = append(changes, Change{Old: obj, New: obj})
		}
	}
	c.advanceLocked(rev)
	c.synced = true
	c.mu.Unlock()
	for _, ch := range changes {
		c.dispatch(ch)
	}
	c.lg.Debug("listed", zap.Int("keys", len(kvs)), zap.Int64("revision", rev))
	return rev, nil
}

func (c *Cache) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := c.st.Client().Watch(wctx, store.Root, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		var changes []Change
		c.mu.Lock()
		for _, ev := range resp.Events {
			var ch Change
			if ev.Type == clientv3.EventTypeDelete {
				ch = c.applyDeleteLocked(ev.Kv.Key)
			} else {
				old := c.lookupLocked(ev.Kv.Key)
				ch = Change{Old: old, New: c.applyPutLocked(ev.Kv)}
			}
			if ch.Old != nil || ch.New != nil {
				changes = append(changes, ch)
			}
		}
		c.advanceLocked(resp.Header.Revision)
		c.mu.Unlock()
		for _, ch := range changes {
			c.dispatch(ch)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("cache: watch channel closed")
}

func (c *Cache) dispatch(ch Change) {
	for _, h := range c.handlers {
		h(ch)
	}
}

func (c *Cache) advanceLocked(rev int64) {
	if rev > c.rev {
		c.rev = rev
		close(c.revCh)
		c.revCh = make(chan struct{})
	}
}

// lookupLocked returns the cached object stored under key, if any.
func (c *Cache) lookupLocked(key []byte) store.Object {
	k := string(key)
	switch {
	case strings.HasPrefix(k, store.JobsPrefix):
		if j, ok := c.jobs[strings.TrimPrefix(k, store.JobsPrefix)]; ok {
			return j
		}
	case strings.HasPrefix(k, store.PodsPrefix):
		if p, ok := c.pods[strings.TrimPrefix(k, store.PodsPrefix)]; ok {
			return p
		}
	case strings.HasPrefix(k, store.NodesPrefix):
		if n, ok := c.nodes[strings.TrimPrefix(k, store.NodesPrefix)]; ok {
			return n
		}
	case strings.HasPrefix(k, store.CronJobsPrefix):
		if cj, ok := c.cronJobs[strings.TrimPrefix(k, store.CronJobsPrefix)]; ok {
			return cj
		}
	case strings.HasPrefix(k, store.DaemonSetsPrefix):
		if ds, ok := c.daemonSets[strings.TrimPrefix(k, store.DaemonSetsPrefix)]; ok {
			return ds
		}
	}
	return nil
}

// Heartbeat is the object reported for changes of a node's liveness key.
// It is not stored anywhere; Metadata.Name is the node.
type Heartbeat = v1.Node

func (c *Cache) applyPutLocked(kv *mvccpb.KeyValue) store.Object {
	k := string(kv.Key)
	switch {
	case strings.HasPrefix(k, store.JobsPrefix):
		j, err := c.st.Jobs().Decode(kv)
		if err != nil {
			c.lg.Warn("undecodable job", zap.String("key", k), zap.Error(err))
			return nil
		}
		c.jobs[strings.TrimPrefix(k, store.JobsPrefix)] = j
		c.jobsByUID[j.GetMetadata().GetUid()] = j
		return j
	case strings.HasPrefix(k, store.PodsPrefix):
		p, err := c.st.Pods().Decode(kv)
		if err != nil {
			c.lg.Warn("undecodable pod", zap.String("key", k), zap.Error(err))
			return nil
		}
		c.removePodLocked(strings.TrimPrefix(k, store.PodsPrefix))
		c.addPodLocked(strings.TrimPrefix(k, store.PodsPrefix), p)
		return p
	case strings.HasPrefix(k, store.NodesPrefix):
		n, err := c.st.Nodes().Decode(kv)
		if err != nil {
			c.lg.Warn("undecodable node", zap.String("key", k), zap.Error(err))
			return nil
		}
		c.nodes[n.Metadata.Name] = n
		return n
	case strings.HasPrefix(k, store.HeartbeatsPrefix):
		name := store.NodeFromHeartbeatKey(k)
		c.heartbeats[name] = true
		return heartbeat(name, true)
	case strings.HasPrefix(k, store.CronJobsPrefix):
		cj, err := c.st.CronJobs().Decode(kv)
		if err != nil {
			c.lg.Warn("undecodable cronjob", zap.String("key", k), zap.Error(err))
			return nil
		}
		c.cronJobs[strings.TrimPrefix(k, store.CronJobsPrefix)] = cj
		c.cronByUID[cj.GetMetadata().GetUid()] = cj
		return cj
	case strings.HasPrefix(k, store.DaemonSetsPrefix):
		ds, err := c.st.DaemonSets().Decode(kv)
		if err != nil {
			c.lg.Warn("undecodable daemonset", zap.String("key", k), zap.Error(err))
			return nil
		}
		c.daemonSets[strings.TrimPrefix(k, store.DaemonSetsPrefix)] = ds
		c.dsByUID[ds.GetMetadata().GetUid()] = ds
		return ds
	}
	return nil
}

func (c *Cache) applyDeleteLocked(key []byte) Change {
	k := string(key)
	switch {
	case strings.HasPrefix(k, store.JobsPrefix):
		name := strings.TrimPrefix(k, store.JobsPrefix)
		if j, ok := c.jobs[name]; ok {
			delete(c.jobs, name)
			delete(c.jobsByUID, j.GetMetadata().GetUid())
			return Change{Old: j}
		}
	case strings.HasPrefix(k, store.PodsPrefix):
		name := strings.TrimPrefix(k, store.PodsPrefix)
		if p := c.removePodLocked(name); p != nil {
			return Change{Old: p}
		}
	case strings.HasPrefix(k, store.NodesPrefix):
		name := strings.TrimPrefix(k, store.NodesPrefix)
		if n, ok := c.nodes[name]; ok {
			delete(c.nodes, name)
			return Change{Old: n}
		}
	case strings.HasPrefix(k, store.HeartbeatsPrefix):
		name := store.NodeFromHeartbeatKey(k)
		delete(c.heartbeats, name)
		return Change{Old: heartbeat(name, true), New: heartbeat(name, false)}
	case strings.HasPrefix(k, store.CronJobsPrefix):
		name := strings.TrimPrefix(k, store.CronJobsPrefix)
		if cj, ok := c.cronJobs[name]; ok {
			delete(c.cronJobs, name)
			delete(c.cronByUID, cj.GetMetadata().GetUid())
			return Change{Old: cj}
		}
	case strings.HasPrefix(k, store.DaemonSetsPrefix):
		name := strings.TrimPrefix(k, store.DaemonSetsPrefix)
		if ds, ok := c.daemonSets[name]; ok {
			delete(c.daemonSets, name)
			delete(c.dsByUID, ds.GetMetadata().GetUid())
			return Change{Old: ds}
		}
	}
	return Change{}
}

// heartbeat builds the pseudo-object reported for liveness changes: a Node
// with only a name and a Ready condition.
func heartbeat(node string, alive bool) *Heartbeat {
	status := "False"
	if alive {
		status = "True"
	}
	return &Heartbeat{Kind: "Heartbeat", Metadata: &v1.ObjectMeta{Name: node},
		Status: &v1.NodeStatus{Conditions: []*v1.NodeCondition{{Type: "Ready", Status: status}}}}
}

// IsHeartbeat reports whether obj is a liveness pseudo-object, and if so the
// node and whether it is alive.
func IsHeartbeat(obj store.Object) (node string, alive, ok bool) {
	n, isNode := obj.(*v1.Node)
	if !isNode || n.Kind != "Heartbeat" {
		return "", false, false
	}
	return n.Metadata.Name, n.Status.Conditions[0].Status == "True", true
}

func (c *Cache) addPodLocked(key string, p *v1.Pod) {
	c.pods[key] = p
	if uid := p.GetMetadata().GetLabels()[LabelControllerUID]; uid != "" {
		m := c.byOwner[uid]
		if m == nil {
			m = map[string]*v1.Pod{}
			c.byOwner[uid] = m
		}
		m[key] = p
	}
	if uid := controllerUID(p); uid != "" {
		addTo(c.byCtrl, uid, key, p)
	} else {
		addTo(c.orphans, p.GetMetadata().GetNamespace(), key, p)
	}
	if node := p.GetSpec().GetNodeName(); node != "" {
		m := c.byNode[node]
		if m == nil {
			m = map[string]*v1.Pod{}
			c.byNode[node] = m
		}
		m[key] = p
		if ph := p.GetStatus().GetPhase(); ph != "Succeeded" && ph != "Failed" {
			addTo(c.activeOnNode, node, key, p)
		}
	} else {
		c.unbound[key] = p
	}
}

func (c *Cache) removePodLocked(key string) *v1.Pod {
	p, ok := c.pods[key]
	if !ok {
		return nil
	}
	delete(c.pods, key)
	delete(c.unbound, key)
	if uid := p.GetMetadata().GetLabels()[LabelControllerUID]; uid != "" {
		delete(c.byOwner[uid], key)
		if len(c.byOwner[uid]) == 0 {
			delete(c.byOwner, uid)
		}
	}
	if uid := controllerUID(p); uid != "" {
		removeFrom(c.byCtrl, uid, key)
	} else {
		removeFrom(c.orphans, p.GetMetadata().GetNamespace(), key)
	}
	if node := p.GetSpec().GetNodeName(); node != "" {
		delete(c.byNode[node], key)
		if len(c.byNode[node]) == 0 {
			delete(c.byNode, node)
		}
		removeFrom(c.activeOnNode, node, key)
	}
	return p
}

// Synced reports whether the first list has been applied.
func (c *Cache) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// Revision is the store revision the cache has applied.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// WaitForRevision blocks until the cache has applied revision rev or ctx ends.
func (c *Cache) WaitForRevision(ctx context.Context, rev int64) error {
	for {
		c.mu.RLock()
		cur, ch := c.rev, c.revCh
		c.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Key is the cache key of a namespaced object: "namespace/name".
func Key(namespace, name string) string { return namespace + "/" + name }

// Job returns the cached Job, or nil.
func (c *Cache) Job(key string) *v1.Job {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.jobs[key]
}

// Jobs returns every cached Job.
func (c *Cache) Jobs() []*v1.Job {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*v1.Job, 0, len(c.jobs))
	for _, j := range c.jobs {
		out = append(out, j)
	}
	return out
}

// JobByUID returns the cached Job with that uid, or nil.
func (c *Cache) JobByUID(uid string) *v1.Job {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.jobsByUID[uid]
}

// Pod returns the cached Pod, or nil.
func (c *Cache) Pod(key string) *v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.pods[key]
}

// PodsOwnedBy returns the pods labelled controller-uid=uid and those whose
// controller owner reference names uid (pods a Job adopted keep the label of
// the Job that made them: SPEC J14).
func (c *Cache) PodsOwnedBy(uid string) []*v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := values(c.byOwner[uid])
	for k, p := range c.byCtrl[uid] {
		if _, ok := c.byOwner[uid][k]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// PodsControlledBy returns the pods whose controller owner reference names
// uid: a Job's pods, including those it adopted.
func (c *Cache) PodsControlledBy(uid string) []*v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.byCtrl[uid])
}

// OrphanPods returns the pods of a namespace that have no controller owner
// reference: candidates for adoption by a Job whose selector matches them
// (SPEC J14). Orphans are rare, so the index stays small.
func (c *Cache) OrphanPods(namespace string) []*v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.orphans[namespace])
}

// PodsOnNode returns the pods bound to node.
func (c *Cache) PodsOnNode(node string) []*v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.byNode[node])
}

// ActivePodsOnNode returns the pods bound to node that are neither
// Succeeded nor Failed.
func (c *Cache) ActivePodsOnNode(node string) []*v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.activeOnNode[node])
}

// UnboundPods returns the pods not yet bound to a node.
func (c *Cache) UnboundPods() []*v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.unbound)
}

// Pods returns every cached pod.
func (c *Cache) Pods() []*v1.Pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.pods)
}

// Node returns the cached Node, or nil.
func (c *Cache) Node(name string) *v1.Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodes[name]
}

// Nodes returns every cached Node.
func (c *Cache) Nodes() []*v1.Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.nodes)
}

// Alive reports whether node's liveness key exists (its lease is live).
func (c *Cache) Alive(node string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.heartbeats[node]
}

// CronJob returns the cached CronJob ("namespace/name"), or nil.
func (c *Cache) CronJob(key string) *v1.CronJob {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cronJobs[key]
}

// CronJobs returns every cached CronJob.
func (c *Cache) CronJobs() []*v1.CronJob {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.cronJobs)
}

// CronJobByUID returns the cached CronJob with that uid, or nil.
func (c *Cache) CronJobByUID(uid string) *v1.CronJob {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cronByUID[uid]
}

// DaemonSet returns the cached DaemonSet ("namespace/name"), or nil.
func (c *Cache) DaemonSet(key string) *v1.DaemonSet {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.daemonSets[key]
}

// DaemonSets returns every cached DaemonSet.
func (c *Cache) DaemonSets() []*v1.DaemonSet {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return values(c.daemonSets)
}

// DaemonSetByUID returns the cached DaemonSet with that uid, or nil.
func (c *Cache) DaemonSetByUID(uid string) *v1.DaemonSet {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.dsByUID[uid]
}

// controllerUID is the uid in a pod's controller owner reference, or "".
func controllerUID(p *v1.Pod) string {
	for _, r := range p.GetMetadata().GetOwnerReferences() {
		if r.GetController() {
			return r.GetUid()
		}
	}
	return ""
}

func addTo(idx map[string]map[string]*v1.Pod, k, key string, p *v1.Pod) {
	m := idx[k]
	if m == nil {
		m = map[string]*v1.Pod{}
		idx[k] = m
	}
	m[key] = p
}

func removeFrom(idx map[string]map[string]*v1.Pod, k, key string) {
	delete(idx[k], key)
	if len(idx[k]) == 0 {
		delete(idx, k)
	}
}

func values[T any](m map[string]T) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Commit applies tx and then waits (up to 5 s) until the cache has applied
// it, so that the caller's next decision reads its own write. It returns
// tx's error unchanged (store.ErrConflict, store.ErrNotLeader …).
func (c *Cache) Commit(ctx context.Context, tx *store.Txn) error {
	rev, err := tx.Commit(ctx)
	if err != nil || rev == 0 {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = c.WaitForRevision(wctx, rev)
	return nil
}

// Apply commits tx through Commit and says what a reconciler should do next.
// landed reports that tx was applied; when it was not, res and err are what
// Reconcile returns: a lost compare-and-swap race (the cache was behind) is
// retried after queue.ConflictRetry without an error, a fenced write is a
// terminal error (leadership is gone), and any other error is retried with
// backoff. what names the object in errors ("job default/pi").
func (c *Cache) Apply(ctx context.Context, tx *store.Txn, what string) (landed bool, res queue.Result, err error) {
	err = c.Commit(ctx, tx)
	switch {
	case err == nil:
		return true, queue.Result{}, nil
	case errors.Is(err, store.ErrConflict):
		return false, queue.Result{RequeueAfter: queue.ConflictRetry}, nil
	case errors.Is(err, store.ErrNotLeader):
		return false, queue.Result{}, fmt.Errorf("%s: %w: %w", what, err, queue.ErrTerminal)
	default:
		return false, queue.Result{}, fmt.Errorf("%s: %w", what, err)
	}
}
