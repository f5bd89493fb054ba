// Package scheduler binds pending pods to nodes (SPEC S1): a Ready,
// uncordoned node whose labels match the pod's nodeSelector and whose free
// capacity covers its requests; among those, the least loaded. Bindings are
// written in batches, each a fenced transaction that checks every pod's mod
// revision, so a pod is never bound twice.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/quantity"
	"github.com/drover-dev/drover/pkg/store"
)

// bindBatch pods are bound per transaction (two operations each).
const bindBatch = 60

// Scheduler binds pods. Run it on the leader only.
type Scheduler struct {
	st      *store.Store
	cache   *cache.Cache
	clk     clock.Clock
	lg      *zap.Logger
	trigger chan struct{}
}

// New returns a scheduler and registers its handler on c.
func New(st *store.Store, c *cache.Cache, clk clock.Clock, lg *zap.Logger) *Scheduler {
	s := &Scheduler{st: st, cache: c, clk: clk, lg: lg.Named("scheduler"), trigger: make(chan struct{}, 1)}
	c.AddHandler(func(ch cache.Change) {
		// Any pod, node or liveness change may make room or add work.
		s.Trigger()
	})
	return s
}

// Trigger asks for a scheduling pass soon.
func (s *Scheduler) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	s.Trigger()
	obs := queue.ObserverFrom(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.trigger:
		}
		start := s.clk.Now()
		computed, err := s.pass(ctx)
		if obs != nil {
			obs.Reconciled("scheduler", s.clk.Since(start), err)
		}
		// Rest as long as the pass computed (reading the nodes and
		// choosing; not its writes, which wait on etcd) before the next
		// one. Every pod change triggers a pass, and a pass reads every
		// node: without a rest, a trickle of pending pods kept passes
		// running back to back, each binding a few pods (at 5,000 nodes
		// the scheduler took most of a core whatever the pod rate).
		// Resting keeps the computing under half a core; pods pending
		// meanwhile wait for the next pass together. This paces CPU, so
		// it is measured and waited on the machine's clock, not the
		// injected one.
		if computed > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(computed):
			}
		}
		if err != nil && ctx.Err() == nil {
			if errors.Is(err, store.ErrNotLeader) {
				s.lg.Info("fenced out, stopping")
				return
			}
			s.lg.Error("scheduling pass failed", zap.String("reconcile_id", uuid.NewString()), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-s.clk.After(50 * time.Millisecond):
				s.Trigger()
			}
		}
	}
}

// resources is what a pod asks for or a node has left.
type resources struct {
	cpuMilli, memory, pods int64
}

// nodeInfo is a candidate node with its free and total capacity.
type nodeInfo struct {
	node        *v1.Node
	alloc, used resources
}

func (n *nodeInfo) fits(r resources) bool {
	return (n.alloc.cpuMilli < 0 || n.used.cpuMilli+r.cpuMilli <= n.alloc.cpuMilli) &&
		(n.alloc.memory < 0 || n.used.memory+r.memory <= n.alloc.memory) &&
		(n.alloc.pods < 0 || n.used.pods+r.pods <= n.alloc.pods)
}

// load is the fullest of cpu, memory and pod slots after adding r, in [0,1].
func (n *nodeInfo) load(r resources) float64 {
	l := 0.0
	ratio := func(used, want, alloc int64) {
		if alloc > 0 {
			l = max(l, float64(used+want)/float64(alloc))
		}
	}
	ratio(n.used.cpuMilli, r.cpuMilli, n.alloc.cpuMilli)
	ratio(n.used.memory, r.memory, n.alloc.memory)
	ratio(n.used.pods, r.pods, n.alloc.pods)
	return l
}

// pass binds what pending pods it can. It returns how long it spent
// choosing nodes (real time, not its writes): Run rests as long.
func (s *Scheduler) pass(ctx context.Context) (time.Duration, error) {
	var pending []*v1.Pod
	for _, p := range s.cache.UnboundPods() {
		if p.GetMetadata().GetDeletionTimestamp() == nil && p.GetStatus().GetPhase() != "Succeeded" && p.GetStatus().GetPhase() != "Failed" {
			pending = append(pending, p)
		}
	}
	if len(pending) == 0 {
		return 0, nil
	}
	began := time.Now()
	sort.Slice(pending, func(i, j int) bool {
		ti, tj := pending[i].GetMetadata().GetCreationTimestamp().AsTime(), pending[j].GetMetadata().GetCreationTimestamp().AsTime()
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return pending[i].GetMetadata().GetName() < pending[j].GetMetadata().GetName()
	})
	pk := newPicker(s.candidates())
	now := timestamppb.New(s.clk.Now())
	var binds, unsched []*v1.Pod
	for _, p := range pending {
		req := podRequests(p)
		best, reason := pk.pick(p, req)
		pod := proto.Clone(p).(*v1.Pod)
		if best == nil {
			if setScheduled(pod, "False", "Unschedulable", reason, now) {
				unsched = append(unsched, pod)
			}
			continue
		}
		pk.bind(best, req)
		pod.Spec.NodeName = best.node.GetMetadata().GetName()
		setScheduled(pod, "True", "", "", now)
		binds = append(binds, pod)
	}
	computed := time.Since(began)
	var lastRev int64
	for i := 0; i < len(binds); {
		// At most bindBatch pods, and fewer when they are large (SPEC B1).
		tx := s.st.Txn()
		for end := min(i+bindBatch, len(binds)); i < end && (tx.Len() == 0 || !tx.Full()); i++ {
			tx.Update(binds[i])
			tx.PutAssignment(binds[i])
		}
		rev, err := tx.Commit(ctx)
		if errors.Is(err, store.ErrConflict) {
			s.Trigger() // a pod changed meanwhile; the next pass sees it
			continue
		}
		if err != nil {
			return computed, fmt.Errorf("bind: %w", err)
		}
		lastRev = rev
	}
	for i := 0; i < len(unsched); {
		tx := s.st.Txn()
		for ; i < len(unsched) && (tx.Len() == 0 || !tx.Full()); i++ {
			tx.Update(unsched[i])
		}
		rev, err := tx.Commit(ctx)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return computed, fmt.Errorf("mark unschedulable: %w", err)
		}
		lastRev = max(lastRev, rev)
	}
	if lastRev > 0 {
		// The next pass must see these bindings, or it would count the
		// capacity they take as free.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.cache.WaitForRevision(wctx, lastRev); err != nil {
			return computed, err
		}
	}
	if len(binds) > 0 {
		s.lg.Debug("bound pods", zap.Int("pods", len(binds)), zap.Int("unschedulable", len(unsched)))
	}
	return computed, nil
}

// candidates are the nodes that are alive and not cordoned, with their usage.
func (s *Scheduler) candidates() []*nodeInfo {
	var out []*nodeInfo
	for _, n := range s.cache.Nodes() {
		name := n.GetMetadata().GetName()
		if !s.cache.Alive(name) || n.GetSpec().GetUnschedulable() {
			continue
		}
		ni := &nodeInfo{node: n, alloc: nodeAllocatable(n)}
		for _, p := range s.cache.ActivePodsOnNode(name) {
			r := podRequests(p)
			ni.used.cpuMilli += r.cpuMilli
			ni.used.memory += r.memory
			ni.used.pods += r.pods
		}
		out = append(out, ni)
	}
	// Unordered: pick and the picker break ties by name themselves
	// (sorting 5,000 nodes on every pass was a tenth of the scheduler).
	return out
}

// pick returns the least loaded node that fits (ties: fewer pods, then the
// first name), or nil and why none does.
func pick(nodes []*nodeInfo, p *v1.Pod, req resources) (*nodeInfo, string) {
	var best *nodeInfo
	bestLoad := 0.0
	selectorMiss, full := 0, 0
	for _, n := range nodes {
		if !matches(p.GetSpec().GetNodeSelector(), n.node.GetMetadata().GetLabels()) {
			selectorMiss++
			continue
		}
		if !n.fits(req) {
			full++
			continue
		}
		if l := n.load(req); best == nil || l < bestLoad || l == bestLoad && (n.used.pods < best.used.pods ||
			n.used.pods == best.used.pods && n.node.GetMetadata().GetName() < best.node.GetMetadata().GetName()) {
			best, bestLoad = n, l
		}
	}
	if best != nil {
		return best, ""
	}
	var why []string
	if selectorMiss > 0 {
		why = append(why, fmt.Sprintf("%d node(s) didn't match Pod's node selector", selectorMiss))
	}
	if full > 0 {
		why = append(why, fmt.Sprintf("%d node(s) had insufficient resources", full))
	}
	msg := fmt.Sprintf("0/%d nodes are available", len(nodes))
	if len(why) > 0 {
		msg += ": " + strings.Join(why, ", ")
	}
	return nil, msg + "."
}

func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// setScheduled sets the PodScheduled condition; it reports a change.
func setScheduled(p *v1.Pod, status, reason, msg string, now *timestamppb.Timestamp) bool {
	if p.Status == nil {
		p.Status = &v1.PodStatus{Phase: "Pending"}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "PodScheduled" {
			if c.Status == status && c.Reason == reason && c.Message == msg {
				return false
			}
			c.Status, c.Reason, c.Message, c.LastTransitionTime = status, reason, msg, now
			return true
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, &v1.PodCondition{Type: "PodScheduled", Status: status, Reason: reason, Message: msg, LastTransitionTime: now})
	return true
}

// podRequests sums the containers' requests (limits stand in for missing
// requests, as in Kubernetes). Unparseable values were rejected by
// validation and count as zero here.
func podRequests(p *v1.Pod) resources {
	r := resources{pods: 1}
	for _, c := range p.GetSpec().GetContainers() {
		get := func(name string) string {
			if v, ok := c.GetResources().GetRequests()[name]; ok {
				return v
			}
			return c.GetResources().GetLimits()[name]
		}
		if v := get("cpu"); v != "" {
			m, _ := quantity.Milli(v)
			r.cpuMilli += m
		}
		if v := get("memory"); v != "" {
			b, _ := quantity.Value(v)
			r.memory += b
		}
	}
	return r
}

// nodeAllocatable reads a node's allocatable (else capacity); -1 is unlimited.
func nodeAllocatable(n *v1.Node) resources {
	src := n.GetStatus().GetAllocatable()
	if len(src) == 0 {
		src = n.GetStatus().GetCapacity()
	}
	r := resources{cpuMilli: -1, memory: -1, pods: -1}
	if v, ok := src["cpu"]; ok {
		if m, err := quantity.Milli(v); err == nil {
			r.cpuMilli = m
		}
	}
	if v, ok := src["memory"]; ok {
		if b, err := quantity.Value(v); err == nil {
			r.memory = b
		}
	}
	if v, ok := src["pods"]; ok {
		if b, err := quantity.Value(v); err == nil {
			r.pods = b
		}
	}
	return r
}
