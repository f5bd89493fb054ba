// Package job is the Job reconciler (SPEC J1-J17): a pure planner (plan.go)
// and the thin shell here that reads the leader's cache and applies a plan as
// one fenced etcd transaction.
package job

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/event"
	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/store"
)

// Controller reconciles Jobs.
type Controller struct {
	st    *store.Store
	cache *cache.Cache
	clk   clock.Clock
	lg    *zap.Logger
	q     *queue.Queue
	namer Namer
	deps  dependants // SPEC J18: who waits for whom (deps.go)
	// Workers is the number of Jobs reconciled at once.
	Workers int
	// Limits bound what one Job may create (SPEC B1).
	Limits Limits
}

// New returns a Job controller writing through st (fenced by the caller's
// leadership) and reading c. It registers its handler on c.
func New(st *store.Store, c *cache.Cache, clk clock.Clock, lg *zap.Logger) *Controller {
	jc := &Controller{st: st, cache: c, clk: clk, lg: lg.Named("job"), q: queue.New(clk), namer: randomNamer{}, Workers: 4}
	c.AddHandler(jc.onChange)
	return jc
}

// Queue exposes the work queue (for metrics and tests).
func (c *Controller) Queue() *queue.Queue { return c.q }

func (c *Controller) onChange(ch cache.Change) {
	c.enqueueDependants(ch) // SPEC J18
	for _, obj := range []store.Object{ch.Old, ch.New} {
		switch o := obj.(type) {
		case *v1.Job:
			c.q.Add(cache.Key(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName()))
		case *v1.Pod:
			ref := controllerRef(o)
			switch {
			case ref == nil && obj == ch.New:
				// An orphan: the Jobs whose selector matches may adopt it (J14).
				for _, j := range c.adopters(o) {
					c.q.Add(cache.Key(j.GetMetadata().GetNamespace(), j.GetMetadata().GetName()))
				}
			case ref != nil && ref.GetKind() == "Job":
				c.q.Add(cache.Key(o.GetMetadata().GetNamespace(), ref.GetName()))
			}
		}
	}
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	queue.Run(ctx, c.q, c.Workers, c.lg, c.Reconcile, queue.WithFailureReporter(
		event.NewRepeats(c.st, c.lg, c.clk, "job-controller", func(key string) *v1.ObjectReference {
			return event.RefTo(c.cache.Job(key))
		})))
}

// Reconcile brings one Job ("namespace/name") closer to its spec.
func (c *Controller) Reconcile(ctx context.Context, key string) (queue.Result, error) {
	cached := c.cache.Job(key)
	if cached == nil || cached.GetMetadata().GetDeletionTimestamp() != nil {
		return queue.Result{}, nil // deleted, or being deleted by the garbage collector
	}
	job := proto.Clone(cached).(*v1.Job)
	// The cache's pods are shared and read-only: plan only reads them,
	// and apply clones the few it changes (cloning every pod of a Job on
	// every reconcile made a 20,000-pod Job quadratic; docs/benchmarks.md).
	// Orphans are cloned because adopting one changes it in place.
	pods := c.cache.PodsControlledBy(job.GetMetadata().GetUid())
	if !finished(job) {
		for _, p := range c.orphans(job) {
			pods = append(pods, proto.Clone(p).(*v1.Pod))
		}
	}
	now := c.clk.Now()
	if res, done, err := c.gateDependencies(ctx, job, len(pods), now); done {
		return res, err // SPEC J18: no pods until every dependency is Complete
	}
	p := planWithin(job, pods, now, c.namer, c.Limits)
	res := queue.Result{Requeue: p.Requeue, RequeueAfter: p.RequeueAfter}
	if p.Empty(job.GetStatus()) {
		return res, nil
	}
	if landed, res, err := c.cache.Apply(ctx, c.txnFor(job, p, now), "job "+key); !landed { // and read our own write before the next decision
		return res, err
	}
	c.record(ctx, job, p.Events, now)
	return res, nil
}

// txnFor builds the one transaction that applies a plan, guarded by the
// Job's and every touched pod's mod revision (and by leadership, through the
// fenced store).
func (c *Controller) txnFor(job *v1.Job, p *Plan, now time.Time) *store.Txn {
	tx := c.st.Txn()
	if p.DeleteJob {
		tx.Delete(job)
	} else {
		job.Status = p.Status
		tx.Update(job)
	}
	for _, pod := range p.Create {
		tx.Create(pod)
	}
	written := map[*v1.Pod]bool{}
	for _, pod := range p.Count {
		written[pod] = true
		pod = proto.Clone(pod).(*v1.Pod) // may be the cache's
		pod.Metadata.Finalizers = withoutFinalizer(pod.Metadata.Finalizers, FinalizerTracking)
		if pod.Metadata.DeletionTimestamp != nil && len(pod.Metadata.Finalizers) == 0 {
			// Deletion was asked for and the pod is now counted: finish it (J11).
			tx.Delete(pod)
			if n := pod.GetSpec().GetNodeName(); n != "" {
				tx.DeleteAssignment(n, pod.Metadata.Namespace, pod.Metadata.Name)
			}
			continue
		}
		tx.Update(pod)
	}
	ts := timestamppb.New(now)
	for _, t := range p.Terminate {
		pod := t.Pod
		written[pod] = true
		pod = proto.Clone(pod).(*v1.Pod) // may be the cache's
		if pod.GetSpec().GetNodeName() == "" {
			// Never bound, never ran: nothing to stop or count.
			tx.Delete(pod)
			continue
		}
		if pod.Metadata.Annotations == nil {
			pod.Metadata.Annotations = map[string]string{}
		}
		pod.Metadata.Annotations[AnnotationTerminationReason] = t.Reason
		pod.Metadata.DeletionTimestamp = ts
		tx.Update(pod)
		tx.PutAssignment(pod)
	}
	for _, pod := range p.Adopt {
		// Adopted pods also counted or stopped are written above, with
		// their new owner reference.
		if !written[pod] {
			tx.Update(pod)
		}
	}
	return tx
}

// finished reports whether a Job has its final condition.
func finished(job *v1.Job) bool {
	return hasCondition(job.GetStatus(), CondComplete) || hasCondition(job.GetStatus(), CondFailed)
}

// selector returns a Job's selector, or nil if it has none or an empty
// one (which must not adopt every orphan of the namespace).
func selector(job *v1.Job) labels.Selector {
	sel := job.GetSpec().GetSelector()
	if len(sel.GetMatchLabels()) == 0 && len(sel.GetMatchExpressions()) == 0 {
		return nil
	}
	s, err := labels.FromLabelSelector(sel)
	if err != nil {
		return nil
	}
	return s
}

// orphans returns, for a Job with a manual selector, the pods of its
// namespace that no controller owns, that are not being deleted, and that
// its selector matches: the Job adopts them (SPEC J14). A Job with a
// generated selector adopts nothing: the only orphans carrying its uid are
// the ones its own orphan deletion just released.
func (c *Controller) orphans(job *v1.Job) []*v1.Pod {
	if !job.GetSpec().GetManualSelector() || job.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	sel := selector(job)
	if sel == nil {
		return nil
	}
	var out []*v1.Pod
	for _, p := range c.cache.OrphanPods(job.GetMetadata().GetNamespace()) {
		if p.GetMetadata().GetDeletionTimestamp() == nil && sel.Matches(p.GetMetadata().GetLabels()) {
			out = append(out, p)
		}
	}
	return out
}

// adopters returns the unfinished Jobs with a manual selector, in an orphan
// pod's namespace, whose selector matches it.
func (c *Controller) adopters(pod *v1.Pod) []*v1.Job {
	var out []*v1.Job
	for _, j := range c.cache.Jobs() {
		if j.GetMetadata().GetNamespace() != pod.GetMetadata().GetNamespace() || finished(j) ||
			!j.GetSpec().GetManualSelector() || j.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if sel := selector(j); sel != nil && sel.Matches(pod.GetMetadata().GetLabels()) {
			out = append(out, j)
		}
	}
	return out
}

// record stores the plan's events, best effort (SPEC J17). Pod creations are
// folded into one event per reconcile to keep writes per pod low.
func (c *Controller) record(ctx context.Context, job *v1.Job, evs []Event, now time.Time) {
	var created []string
	var rest []Event
	for _, e := range evs {
		if e.Reason == "SuccessfulCreate" {
			created = append(created, strings.TrimPrefix(e.Message, "Created pod: "))
			continue
		}
		rest = append(rest, e)
	}
	if len(created) > 0 {
		msg := "Created pod: " + created[0]
		if len(created) > 1 {
			msg = fmt.Sprintf("Created %d pods: %s", len(created), strings.Join(created[:min(len(created), 5)], ", "))
			if len(created) > 5 {
				msg += ", …"
			}
		}
		rest = append(rest, Event{Type: "Normal", Reason: "SuccessfulCreate", Message: msg})
	}
	ref := &v1.ObjectReference{ApiVersion: "batch/v1", Kind: "Job", Namespace: job.Metadata.Namespace, Name: job.Metadata.Name, Uid: job.Metadata.Uid}
	event.Record(ctx, c.st, c.lg, ref, "job-controller", rest, now)
}

// randomNamer names pods like Kubernetes' generateName: <job>-<5 chars>, and
// <job>-<index>-<5 chars> for Indexed Jobs.
type randomNamer struct{}

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func (randomNamer) PodName(job string, index int) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = suffixAlphabet[int(b[i])%len(suffixAlphabet)]
	}
	prefix := job
	if index >= 0 {
		prefix = fmt.Sprintf("%s-%d", job, index)
	}
	if len(prefix) > 57 {
		prefix = prefix[:57]
	}
	return prefix + "-" + string(b)
}

func (randomNamer) UID() string { return NewUID() }

// NewUID returns a random RFC 4122 version 4 uid.
func NewUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
