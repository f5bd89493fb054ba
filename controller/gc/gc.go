// Package gc is the garbage collector (SPEC J12): it deletes the pods of
// deleted Jobs and DaemonSets and the Jobs of deleted CronJobs (cascade
// background), the pods of Jobs being deleted in the
// foreground and then those Jobs, and finishes graceful pod deletions once a
// pod has stopped and been counted. It never deletes a pod that still holds
// the Job tracking finalizer while its Job exists (J11).
package gc

import (
	"context"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/event"
	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// FinalizerForeground holds a Job being deleted in the foreground until its
// pods are gone (SPEC J12).
const FinalizerForeground = "foregroundDeletion"

// AnnotationTerminationReason is set on a pod stopped because its Job is gone.
const AnnotationTerminationReason = "drover.io/termination-reason"

// Collector is the garbage collector.
type Collector struct {
	st    *store.Store
	cache *cache.Cache
	clk   clock.Clock
	lg    *zap.Logger
	q     *queue.Queue
}

// New returns a collector and registers its handler on c.
func New(st *store.Store, c *cache.Cache, clk clock.Clock, lg *zap.Logger) *Collector {
	g := &Collector{st: st, cache: c, clk: clk, lg: lg.Named("gc"), q: queue.New(clk)}
	c.AddHandler(g.onChange)
	return g
}

func (g *Collector) onChange(ch cache.Change) {
	switch o := firstNonNil(ch.New, ch.Old).(type) {
	case *v1.Pod:
		g.q.Add("pod/" + cache.Key(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName()))
		if ch.New == nil {
			// A Job deleted in the foreground waits for its last pod.
			for _, ref := range o.GetMetadata().GetOwnerReferences() {
				if ref.GetController() && ref.GetKind() == "Job" {
					g.q.Add("job/" + cache.Key(o.GetMetadata().GetNamespace(), ref.GetName()))
				}
			}
		}
	case *v1.CronJob:
		if ch.New == nil { // its Jobs go with it (cascade background)
			for _, j := range g.cache.Jobs() {
				if ref := controllerRef(j.GetMetadata()); ref != nil && ref.GetUid() == o.GetMetadata().GetUid() {
					g.q.Add("job/" + cache.Key(j.GetMetadata().GetNamespace(), j.GetMetadata().GetName()))
				}
			}
		}
	case *v1.DaemonSet:
		if ch.New == nil { // its pods go with it (cascade background)
			for _, p := range g.cache.PodsOwnedBy(o.GetMetadata().GetUid()) {
				g.q.Add("pod/" + cache.Key(p.GetMetadata().GetNamespace(), p.GetMetadata().GetName()))
			}
		}
	case *v1.Job:
		g.q.Add("job/" + cache.Key(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName()))
		if ch.New == nil || o.GetMetadata().GetDeletionTimestamp() != nil {
			for _, p := range g.cache.PodsOwnedBy(o.GetMetadata().GetUid()) {
				g.q.Add("pod/" + cache.Key(p.GetMetadata().GetNamespace(), p.GetMetadata().GetName()))
			}
		}
	}
}

func firstNonNil(a, b store.Object) store.Object {
	if a != nil {
		return a
	}
	return b
}

// Run collects until ctx ends.
func (g *Collector) Run(ctx context.Context) {
	queue.Run(ctx, g.q, 2, g.lg, g.Reconcile, queue.WithFailureReporter(
		event.NewRepeats(g.st, g.lg, g.clk, "garbage-collector", g.ref)))
}

// ref names the object of a key ("pod/<ns>/<name>", "job/<ns>/<name>").
func (g *Collector) ref(key string) *v1.ObjectReference {
	kind, k, _ := strings.Cut(key, "/")
	switch kind {
	case "pod":
		return event.RefTo(g.cache.Pod(k))
	case "job":
		return event.RefTo(g.cache.Job(k))
	}
	return nil
}

// Reconcile handles "pod/<ns>/<name>" and "job/<ns>/<name>" keys.
func (g *Collector) Reconcile(ctx context.Context, key string) (queue.Result, error) {
	kind, k, _ := strings.Cut(key, "/")
	tx := g.st.Txn()
	switch kind {
	case "pod":
		g.pod(tx, k)
	case "job":
		g.job(tx, k)
	}
	if landed, res, err := g.cache.Apply(ctx, tx, "gc "+key); !landed {
		return res, err
	}
	return queue.Result{}, nil
}

func (g *Collector) pod(tx *store.Txn, key string) {
	p := g.cache.Pod(key)
	if p == nil {
		return
	}
	terminal := p.GetStatus().GetPhase() == "Succeeded" || p.GetStatus().GetPhase() == "Failed"
	bound := p.GetSpec().GetNodeName() != ""
	ownerGone, reason := false, "JobDeleted"
	if ref := controllerRef(p.GetMetadata()); ref != nil {
		if ref.GetKind() == "DaemonSet" {
			ownerGone, reason = g.cache.DaemonSetByUID(ref.GetUid()) == nil, "DaemonSetDeleted"
		} else {
			j := g.cache.JobByUID(ref.GetUid())
			ownerGone = j == nil || j.GetMetadata().GetDeletionTimestamp() != nil
		}
	}
	switch {
	case ownerGone && (terminal || !bound):
		deletePod(tx, p)
	case ownerGone && p.GetMetadata().GetDeletionTimestamp() == nil:
		pod := proto.Clone(p).(*v1.Pod)
		if pod.Metadata.Annotations == nil {
			pod.Metadata.Annotations = map[string]string{}
		}
		pod.Metadata.Annotations[AnnotationTerminationReason] = reason
		pod.Metadata.DeletionTimestamp = timestamppb.New(g.clk.Now())
		tx.Update(pod)
		tx.PutAssignment(pod)
	case p.GetMetadata().GetDeletionTimestamp() != nil && (terminal || !bound) && len(p.GetMetadata().GetFinalizers()) == 0:
		deletePod(tx, p)
	}
}

// job finishes a foreground deletion once the Job's pods are gone, and
// deletes a Job whose owning CronJob is gone (its pods follow).
func (g *Collector) job(tx *store.Txn, key string) {
	j := g.cache.Job(key)
	if j == nil {
		return
	}
	if ref := controllerRef(j.GetMetadata()); ref != nil && ref.GetKind() == "CronJob" && g.cache.CronJobByUID(ref.GetUid()) == nil {
		tx.Delete(j)
		return
	}
	if j.GetMetadata().GetDeletionTimestamp() == nil {
		return
	}
	if len(g.cache.PodsOwnedBy(j.GetMetadata().GetUid())) > 0 {
		return // its pods are being collected; their deletion requeues the Job
	}
	tx.Delete(j)
}

func deletePod(tx *store.Txn, p *v1.Pod) {
	tx.Delete(p)
	if n := p.GetSpec().GetNodeName(); n != "" {
		tx.DeleteAssignment(n, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
	}
}

func controllerRef(md *v1.ObjectMeta) *v1.OwnerReference {
	for _, ref := range md.GetOwnerReferences() {
		if ref.GetController() {
			return ref
		}
	}
	return nil
}
