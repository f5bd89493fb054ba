package daemonset

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/event"
	jobctl "github.com/drover-dev/drover/controller/job"
	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// Controller reconciles DaemonSets.
type Controller struct {
	st    *store.Store
	cache *cache.Cache
	clk   clock.Clock
	lg    *zap.Logger
	q     *queue.Queue
}

// New returns a DaemonSet controller writing through st (fenced by the
// caller's leadership) and reading c; it registers its handler on c.
func New(st *store.Store, c *cache.Cache, clk clock.Clock, lg *zap.Logger) *Controller {
	dc := &Controller{st: st, cache: c, clk: clk, lg: lg.Named("daemonset"), q: queue.New(clk)}
	c.AddHandler(dc.onChange)
	return dc
}

func (c *Controller) onChange(ch cache.Change) {
	for _, obj := range []store.Object{ch.Old, ch.New} {
		switch o := obj.(type) {
		case *v1.DaemonSet:
			c.q.Add(cache.Key(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName()))
		case *v1.Pod:
			for _, ref := range o.GetMetadata().GetOwnerReferences() {
				if ref.GetController() && ref.GetKind() == "DaemonSet" {
					c.q.Add(cache.Key(o.GetMetadata().GetNamespace(), ref.GetName()))
				}
			}
		case *v1.Node: // nodes and liveness: every DaemonSet may care
			if ch.Old == ch.New && obj == ch.New {
				continue // a resync; every DaemonSet is queued by its own change
			}
			for _, ds := range c.cache.DaemonSets() {
				c.q.Add(cache.Key(ds.GetMetadata().GetNamespace(), ds.GetMetadata().GetName()))
			}
		}
	}
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	queue.Run(ctx, c.q, 2, c.lg, c.Reconcile, queue.WithFailureReporter(
		event.NewRepeats(c.st, c.lg, c.clk, "daemonset-controller", func(key string) *v1.ObjectReference {
			return event.RefTo(c.cache.DaemonSet(key))
		})))
}

// Reconcile brings one DaemonSet ("namespace/name") closer to its spec.
func (c *Controller) Reconcile(ctx context.Context, key string) (queue.Result, error) {
	cached := c.cache.DaemonSet(key)
	if cached == nil {
		return queue.Result{}, nil // deleted: the garbage collector removes its pods
	}
	ds := proto.Clone(cached).(*v1.DaemonSet)
	var nodes []NodeInfo
	for _, n := range c.cache.Nodes() {
		nodes = append(nodes, NodeInfo{Node: n, Alive: c.cache.Alive(n.GetMetadata().GetName())})
	}
	var pods []*v1.Pod
	for _, p := range c.cache.PodsControlledBy(ds.GetMetadata().GetUid()) {
		pods = append(pods, proto.Clone(p).(*v1.Pod))
	}
	now := c.clk.Now()
	p := plan(ds, nodes, pods, now, func() string { return podName(ds.GetMetadata().GetName()) }, jobctl.NewUID)
	res := queue.Result{Requeue: p.Requeue, RequeueAfter: p.RequeueAfter}
	if len(p.Create) == 0 && len(p.Delete) == 0 && proto.Equal(p.Status, cached.GetStatus()) {
		return res, nil
	}
	tx := c.st.Txn()
	ds.Status = p.Status
	tx.Update(ds) // guards the decision by the DaemonSet's revision
	for _, pod := range p.Create {
		tx.Create(pod)
		tx.PutAssignment(pod) // bound already: the scheduler skips it
	}
	ts := timestamppb.New(now)
	for _, d := range p.Delete {
		pod := d.Pod
		node := pod.GetSpec().GetNodeName()
		if d.Now || node == "" {
			tx.Delete(pod)
			if node != "" {
				tx.DeleteAssignment(node, pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName())
			}
			continue
		}
		if pod.Metadata.Annotations == nil {
			pod.Metadata.Annotations = map[string]string{}
		}
		pod.Metadata.Annotations[AnnotationTerminationReason] = d.Reason
		pod.Metadata.DeletionTimestamp = ts
		tx.Update(pod)
		tx.PutAssignment(pod) // the worker stops it; the garbage collector removes it
	}
	if landed, res, err := c.cache.Apply(ctx, tx, "daemonset "+key); !landed {
		return res, err
	}
	c.record(ctx, ds, p, now)
	return res, nil
}

// record stores events for created and deleted pods, best effort.
func (c *Controller) record(ctx context.Context, ds *v1.DaemonSet, p *Plan, now time.Time) {
	evs := p.Events
	for _, pod := range p.Create {
		evs = append(evs, Event{Type: "Normal", Reason: "SuccessfulCreate", Message: fmt.Sprintf("Created pod: %s on node %s", pod.Metadata.Name, pod.Spec.NodeName)})
	}
	for _, d := range p.Delete {
		evs = append(evs, Event{Type: "Normal", Reason: "SuccessfulDelete", Message: fmt.Sprintf("Deleted pod: %s (%s)", d.Pod.Metadata.Name, d.Reason)})
	}
	ref := &v1.ObjectReference{ApiVersion: "apps/v1", Kind: "DaemonSet", Namespace: ds.Metadata.Namespace, Name: ds.Metadata.Name, Uid: ds.Metadata.Uid}
	event.Record(ctx, c.st, c.lg, ref, "daemonset-controller", evs, now)
}

// podName is <daemonset>-<5 random characters>, like generateName.
func podName(ds string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	if len(ds) > 57 {
		ds = ds[:57]
	}
	return ds + "-" + string(b)
}
