package cronjob

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/event"
	jobctl "github.com/drover-dev/drover/controller/job"
	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// Controller reconciles CronJobs.
type Controller struct {
	st     *store.Store
	cache  *cache.Cache
	clk    clock.Clock
	lg     *zap.Logger
	q      *queue.Queue
	minute time.Duration
	newUID func() string

	// owned indexes the Jobs each CronJob (by uid) controls, kept by the
	// cache handler, so a reconcile does not scan every Job.
	mu    sync.Mutex
	owned map[string]map[string]bool
}

// New returns a CronJob controller writing through st (fenced by the
// caller's leadership) and reading c; it registers its handler on c.
// minute is the length of a schedule minute: 0 or time.Minute in
// production; a test may pass time.Second so that "* * * * *" fires every
// second (the --cron-minute flag; docs/cronjobs-daemonsets.md).
func New(st *store.Store, c *cache.Cache, clk clock.Clock, lg *zap.Logger, minute time.Duration) *Controller {
	if minute <= 0 {
		minute = time.Minute
	}
	cc := &Controller{st: st, cache: c, clk: clk, lg: lg.Named("cronjob"), q: queue.New(clk), minute: minute, newUID: jobctl.NewUID, owned: map[string]map[string]bool{}}
	c.AddHandler(cc.onChange)
	return cc
}

func (c *Controller) onChange(ch cache.Change) {
	for _, obj := range []store.Object{ch.Old, ch.New} {
		switch o := obj.(type) {
		case *v1.CronJob:
			c.q.Add(cache.Key(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName()))
		case *v1.Job:
			if ref := ownerCronJob(o); ref != nil {
				c.index(ref.GetUid(), cache.Key(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName()), obj == ch.New)
				c.q.Add(cache.Key(o.GetMetadata().GetNamespace(), ref.GetName()))
			}
		}
	}
}

// index records (present) or forgets a Job of the CronJob with uid.
func (c *Controller) index(uid, job string, present bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.owned[uid]
	if present {
		if m == nil {
			m = map[string]bool{}
			c.owned[uid] = m
		}
		m[job] = true
		return
	}
	delete(m, job)
	if len(m) == 0 {
		delete(c.owned, uid)
	}
}

// ownedJobs returns the cached Jobs the CronJob with uid controls.
func (c *Controller) ownedJobs(uid string) []*v1.Job {
	c.mu.Lock()
	keys := make([]string, 0, len(c.owned[uid]))
	for k := range c.owned[uid] {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	var out []*v1.Job
	for _, k := range keys {
		if j := c.cache.Job(k); j != nil {
			if ref := ownerCronJob(j); ref != nil && ref.GetUid() == uid {
				out = append(out, j)
			}
		}
	}
	return out
}

func ownerCronJob(j *v1.Job) *v1.OwnerReference {
	for _, ref := range j.GetMetadata().GetOwnerReferences() {
		if ref.GetController() && ref.GetKind() == "CronJob" {
			return ref
		}
	}
	return nil
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	queue.Run(ctx, c.q, 2, c.lg, c.Reconcile, queue.WithFailureReporter(
		event.NewRepeats(c.st, c.lg, c.clk, "cronjob-controller", func(key string) *v1.ObjectReference {
			return event.RefTo(c.cache.CronJob(key))
		})))
}

// Reconcile brings one CronJob ("namespace/name") up to date and asks to be
// called again at its next schedule time.
func (c *Controller) Reconcile(ctx context.Context, key string) (queue.Result, error) {
	cached := c.cache.CronJob(key)
	if cached == nil {
		return queue.Result{}, nil
	}
	cj := proto.Clone(cached).(*v1.CronJob)
	uid := cj.GetMetadata().GetUid()
	owned := c.ownedJobs(uid)
	now := c.clk.Now()
	ns := cj.GetMetadata().GetNamespace()
	p := plan(Input{
		CronJob: cj, Jobs: owned, Now: now, Minute: c.minute, NewUID: c.newUID,
		Taken: func(name string) bool { return c.cache.Job(cache.Key(ns, name)) != nil },
	})
	res := queue.Result{RequeueAfter: p.RequeueAfter}
	if p.Create == nil && len(p.Delete) == 0 && proto.Equal(p.Status, statusOrEmpty(cached)) {
		c.record(ctx, cj, p.Events, now)
		return res, nil
	}
	// One transaction: the CronJob's status (guarded by its mod revision),
	// the new Job if its key is still free (create-if-absent: a Job for this
	// schedule time made by an earlier leader makes the whole write fail,
	// and the retry sees it in the cache; SPEC C2), and the deletions.
	tx := c.st.Txn()
	cj.Status = p.Status
	tx.Update(cj)
	if p.Create != nil {
		tx.Create(p.Create)
	}
	for _, j := range p.Delete {
		tx.Delete(j)
	}
	if landed, res, err := c.cache.Apply(ctx, tx, "cronjob "+key); !landed { // and wait to read our own write
		return res, err
	}
	c.record(ctx, cj, p.Events, now)
	return res, nil
}

// record stores events, best effort.
func (c *Controller) record(ctx context.Context, cj *v1.CronJob, evs []Event, now time.Time) {
	ref := &v1.ObjectReference{ApiVersion: "batch/v1", Kind: "CronJob", Namespace: cj.Metadata.Namespace, Name: cj.Metadata.Name, Uid: cj.Metadata.Uid}
	event.Record(ctx, c.st, c.lg, ref, "cronjob-controller", evs, now)
}
