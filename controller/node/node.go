// Package node is the node lifecycle reconciler (SPEC N2): a node whose
// liveness key is gone (its worker's lease expired or was revoked) is
// NotReady at once, and its pods are marked Failed with condition
// DisruptionTarget (reason NodeLost) so that their Jobs replace them. The
// leader's first list reports every node, so a lease that expired while no
// controller led is found when a leader starts.
package node

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/event"
	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/podstatus"
	"github.com/drover-dev/drover/pkg/store"
)

// ReasonNodeLost is the reason on a lost node's pods and on its Ready condition.
const ReasonNodeLost = "NodeLost"

// Controller reconciles node readiness.
type Controller struct {
	st    *store.Store
	cache *cache.Cache
	clk   clock.Clock
	lg    *zap.Logger
	q     *queue.Queue
}

// New returns a node controller and registers its handler on c.
func New(st *store.Store, c *cache.Cache, clk clock.Clock, lg *zap.Logger) *Controller {
	nc := &Controller{st: st, cache: c, clk: clk, lg: lg.Named("node"), q: queue.New(clk)}
	c.AddHandler(nc.onChange)
	return nc
}

func (c *Controller) onChange(ch cache.Change) {
	for _, obj := range []store.Object{ch.Old, ch.New} {
		switch o := obj.(type) {
		case *v1.Node: // a Node or a liveness change
			c.q.Add(o.GetMetadata().GetName())
		case *v1.Pod:
			// A pod bound to a node already lost must be failed too.
			if n := o.GetSpec().GetNodeName(); n != "" && ch.New != nil && !c.cache.Alive(n) {
				c.q.Add(n)
			}
		}
	}
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	queue.Run(ctx, c.q, 2, c.lg, c.Reconcile, queue.WithFailureReporter(
		event.NewRepeats(c.st, c.lg, c.clk, "node-controller", func(name string) *v1.ObjectReference {
			return event.RefTo(c.cache.Node(name))
		})))
}

// Reconcile sets a node's Ready condition from its liveness and fails the
// pods of a lost node.
func (c *Controller) Reconcile(ctx context.Context, name string) (queue.Result, error) {
	n := c.cache.Node(name)
	if n == nil {
		return queue.Result{}, nil
	}
	alive := c.cache.Alive(name)
	now := timestamppb.New(c.clk.Now())
	node := proto.Clone(n).(*v1.Node)
	tx := c.st.Txn()
	if alive {
		if setReady(node, "True", "WorkerReady", "worker is renewing its lease", now) {
			tx.Update(node)
		}
	} else if setReady(node, "False", ReasonNodeLost, "worker lease expired", now) {
		tx.Update(node)
		c.lg.Info("node lost", zap.String("node", name))
	}
	more := false
	if !alive {
		for _, p := range c.cache.PodsOnNode(name) {
			if ph := p.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
				continue
			}
			if tx.Full() { // SPEC B1: by operations and by size
				more = true
				break
			}
			pod := proto.Clone(p).(*v1.Pod)
			failLost(pod, name, now)
			tx.Update(pod)
			tx.DeleteAssignment(name, pod.Metadata.Namespace, pod.Metadata.Name)
		}
	}
	if landed, res, err := c.cache.Apply(ctx, tx, "node "+name); !landed {
		return res, err
	}
	return queue.Result{Requeue: more}, nil
}

// failLost marks a pod of a lost node Failed with DisruptionTarget (SPEC N2,
// J15), its containers terminated and not ready (issue 13 #11).
func failLost(pod *v1.Pod, node string, now *timestamppb.Timestamp) {
	msg := fmt.Sprintf("node %s was lost: its worker stopped renewing its lease", node)
	podstatus.Terminate(pod, "Failed", ReasonNodeLost, msg, now)
	pod.Status.Conditions = append(pod.Status.Conditions, &v1.PodCondition{
		Type: "DisruptionTarget", Status: "True", Reason: ReasonNodeLost,
		Message: msg, LastTransitionTime: now,
	})
}

// setReady sets the node's Ready condition; it reports a change.
func setReady(n *v1.Node, status, reason, msg string, now *timestamppb.Timestamp) bool {
	if n.Status == nil {
		n.Status = &v1.NodeStatus{}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			if c.Status == status {
				return false
			}
			c.Status, c.Reason, c.Message, c.LastTransitionTime = status, reason, msg, now
			return true
		}
	}
	n.Status.Conditions = append(n.Status.Conditions, &v1.NodeCondition{Type: "Ready", Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
	return true
}
