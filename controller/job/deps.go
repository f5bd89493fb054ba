package job

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Job dependencies (SPEC J18).
const (
	CondWaiting = "Waiting"

	ReasonWaitingForDependencies = "WaitingForDependencies"
	ReasonDependenciesComplete   = "DependenciesComplete"
	ReasonDependencyFailed       = "DependencyFailed"

	// AnnotationDependenciesSeen lists the dependencies the controller has
	// seen exist, so that one deleted before completing is told apart from
	// one not created yet.
	AnnotationDependenciesSeen = "drover.io/dependencies-seen"
)

// depState is what the gate decided for a Job with spec.dependsOn.
type depState int

const (
	depsPassed  depState = iota // no gate (or already passed): plan as usual
	depsWaiting                 // some dependency is not Complete yet
	depsReady                   // every dependency just completed
	depsFailed                  // a dependency failed or was deleted before completing
)

// dependencyGate decides whether a Job may create pods (SPEC J18). It
// changes job (status conditions, the seen-annotation) in place and returns
// the decision and an event to record. A Job is gated only until it has
// passed once (condition Waiting=False) and only while it has no pods and
// has not finished; lookup returns a Job of the same namespace, or nil.
func dependencyGate(job *v1.Job, pods int, lookup func(name string) *v1.Job, now time.Time) (depState, *Event) {
	deps := job.GetSpec().GetDependsOn()
	st := job.GetStatus()
	if len(deps) == 0 || finished(job) || pods > 0 {
		return depsPassed, nil
	}
	if c := condition(st, CondWaiting); c != nil && c.GetStatus() == "False" {
		return depsPassed, nil
	}
	seen := map[string]bool{}
	for _, n := range strings.Split(job.GetMetadata().GetAnnotations()[AnnotationDependenciesSeen], ",") {
		if n != "" {
			seen[n] = true
		}
	}
	var waiting []string
	failure := ""
	for _, d := range deps {
		dj := lookup(d)
		switch {
		case dj == nil && seen[d]:
			failure = fmt.Sprintf("dependency %s was deleted before it completed", d)
		case dj == nil:
			waiting = append(waiting, d)
		case hasCondition(dj.GetStatus(), CondComplete):
			seen[d] = true
		case hasCondition(dj.GetStatus(), CondFailed):
			seen[d] = true
			failure = fmt.Sprintf("dependency %s failed", d)
		default:
			seen[d] = true
			waiting = append(waiting, d)
		}
		if failure != "" {
			break
		}
	}
	if job.Status == nil {
		job.Status = &v1.JobStatus{}
	}
	st = job.Status
	ts := timestamppb.New(now)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		if job.Metadata.Annotations == nil {
			job.Metadata.Annotations = map[string]string{}
		}
		job.Metadata.Annotations[AnnotationDependenciesSeen] = strings.Join(names, ",")
	}
	switch {
	case failure != "":
		setCondition(st, CondWaiting, "False", ReasonDependencyFailed, failure, ts)
		setCondition(st, CondFailed, "True", ReasonDependencyFailed, failure, ts)
		return depsFailed, &Event{Type: "Warning", Reason: ReasonDependencyFailed, Message: failure}
	case len(waiting) > 0:
		msg := "waiting for " + strings.Join(waiting, ", ")
		if c := condition(st, CondWaiting); c != nil && c.Message != msg {
			c.Message, c.LastProbeTime = msg, ts
		}
		setCondition(st, CondWaiting, "True", ReasonWaitingForDependencies, msg, ts)
		return depsWaiting, nil
	default:
		setCondition(st, CondWaiting, "False", ReasonDependenciesComplete, "dependencies complete: "+strings.Join(deps, ", "), ts)
		return depsReady, nil
	}
}

// gateDependencies runs dependencyGate for a cached Job and, unless it
// passes, writes the Job's new status and annotations (guarded by the
// Job's mod revision) and reports done. A Job that just became ready is
// requeued at once to create its pods.
func (c *Controller) gateDependencies(ctx context.Context, job *v1.Job, pods int, now time.Time) (res queue.Result, done bool, err error) {
	if len(job.GetSpec().GetDependsOn()) == 0 {
		return res, false, nil
	}
	before := proto.Clone(job).(*v1.Job)
	ns := job.GetMetadata().GetNamespace()
	state, ev := dependencyGate(job, pods, func(n string) *v1.Job { return c.cache.Job(cache.Key(ns, n)) }, now)
	if state == depsPassed {
		return res, false, nil
	}
	if state == depsReady {
		res.Requeue = true
	}
	if proto.Equal(before, job) {
		return res, true, nil
	}
	tx := c.st.Txn()
	tx.Update(job)
	if landed, res, err := c.cache.Apply(ctx, tx, "job "+job.GetMetadata().GetName()); !landed {
		return res, true, err
	}
	if ev != nil {
		c.record(ctx, job, []Event{*ev}, now)
	}
	return res, true, nil
}

// dependants indexes, for each Job ("namespace/name"), the Jobs whose
// spec.dependsOn names it, so that a Job's change finds them without
// scanning every Job. It is kept by the cache handler.
type dependants struct {
	mu sync.Mutex
	by map[string]map[string]bool
	// of remembers each dependant's dependencies, to drop its edges.
	of map[string][]string
}

// set records job's dependencies (none: forget it).
func (d *dependants) set(key string, ns string, deps []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.by == nil {
		d.by, d.of = map[string]map[string]bool{}, map[string][]string{}
	}
	for _, old := range d.of[key] {
		delete(d.by[old], key)
		if len(d.by[old]) == 0 {
			delete(d.by, old)
		}
	}
	delete(d.of, key)
	for _, dep := range deps {
		dk := cache.Key(ns, dep)
		if d.by[dk] == nil {
			d.by[dk] = map[string]bool{}
		}
		d.by[dk][key] = true
		d.of[key] = append(d.of[key], dk)
	}
}

// get returns the Jobs that depend on key.
func (d *dependants) get(key string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.by[key]))
	for k := range d.by[key] {
		out = append(out, k)
	}
	return out
}

// enqueueDependants keeps the dependants index and queues the Jobs that
// depend on a Job whose conditions changed or that was deleted, so they
// leave Waiting (or fail) at once.
func (c *Controller) enqueueDependants(ch cache.Change) {
	oldJ, _ := ch.Old.(*v1.Job)
	newJ, _ := ch.New.(*v1.Job)
	if newJ != nil {
		md := newJ.GetMetadata()
		if len(newJ.GetSpec().GetDependsOn()) > 0 || (oldJ != nil && len(oldJ.GetSpec().GetDependsOn()) > 0) {
			c.deps.set(cache.Key(md.GetNamespace(), md.GetName()), md.GetNamespace(), newJ.GetSpec().GetDependsOn())
		}
	} else if oldJ != nil {
		md := oldJ.GetMetadata()
		c.deps.set(cache.Key(md.GetNamespace(), md.GetName()), md.GetNamespace(), nil)
	}
	switch {
	case oldJ == nil:
		return // added: a dependant waits for it anyway
	case newJ != nil && (oldJ == newJ || conditionsEqual(oldJ.GetStatus(), newJ.GetStatus())):
		return // a resync (every Job is queued anyway) or no condition change
	}
	md := oldJ.GetMetadata()
	for _, k := range c.deps.get(cache.Key(md.GetNamespace(), md.GetName())) {
		c.q.Add(k)
	}
}

func conditionsEqual(a, b *v1.JobStatus) bool {
	ac, bc := a.GetConditions(), b.GetConditions()
	if len(ac) != len(bc) {
		return false
	}
	for i := range ac {
		if ac[i].GetType() != bc[i].GetType() || ac[i].GetStatus() != bc[i].GetStatus() {
			return false
		}
	}
	return true
}
