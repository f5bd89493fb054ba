package job

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/controller/event"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// Job condition types and reasons (SPEC J6-J10).
const (
	CondComplete  = "Complete"
	CondFailed    = "Failed"
	CondSuspended = "Suspended"

	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonCompleted            = "Completed"
	ReasonJobSuspended         = "JobSuspended"
	ReasonJobResumed           = "JobResumed"

	// Why the controller terminated a pod (AnnotationTerminationReason).
	TerminationSuspended   = "Suspended"
	TerminationExcess      = "Excess"
	TerminationJobFinished = "JobFinished"
)

// Limits keep one plan within one etcd transaction (store.MaxTxnOps = 128):
// a created pod is one operation, a counted pod one, or two when it is
// deleted with its assignment (its deletion was asked for), a terminated
// pod two (the pod and its assignment), the Job one: 40 + 60 + 2*12 + 1 =
// 125. Counting is budgeted in operations, so that the common case (a pod
// that simply finished) counts 60 pods a plan, not 30 (docs/benchmarks.md).
const (
	maxCreatesPerPlan  = 40
	maxCountOpsPerPlan = 60
	maxTermsPerPlan    = 12
)

// podWrites is how many pod writes fit in one plan's transaction beside the
// Job itself, by size (SPEC B1): the count limits above are for pods of a
// few KiB; a Job whose template is large gets fewer a plan, at least 2 (a
// termination writes the pod and its assignment). Every pod of a Job is
// about its template's size; protojson of a template is close to its
// binary size plus field names, hence the margin.
func podWrites(job *v1.Job) int {
	unit := proto.Size(job.GetSpec().GetTemplate())*5/4 + 2048
	return max((store.MaxTxnBytes-unit)/unit, 2)
}

// take reserves n of the plan's pod writes, if that many are left.
func (p *Plan) take(n int) bool {
	if p.writesLeft < n {
		return false
	}
	p.writesLeft -= n
	return true
}

// countOps is what counting pod costs in the plan's transaction.
func countOps(pod *v1.Pod) int {
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		return 2
	}
	return 1
}

// Event is an event the plan asks to record for the Job (SPEC J17).
type Event = event.Event

// Termination is a pod to stop gracefully, and why.
type Termination struct {
	Pod    *v1.Pod
	Reason string
}

// Plan is what one reconcile of a Job decided. Applying it is one
// transaction guarded by the Job's and each touched pod's mod revision.
type Plan struct {
	// Status is the Job's new status. It includes exactly the pods in Count.
	Status *v1.JobStatus
	// Create are new pods (already named, labelled and owned).
	Create []*v1.Pod
	// Count are terminal pods whose outcome Status includes; their tracking
	// finalizer is removed in the same transaction.
	Count []*v1.Pod
	// Terminate are pods to stop gracefully.
	Terminate []Termination
	// Adopt are orphans the Job takes over (SPEC J14): their owner
	// reference and tracking finalizer are set in the same transaction.
	Adopt []*v1.Pod
	// DeleteJob is set when the Job's TTL after finishing has passed (SPEC J8).
	DeleteJob bool
	Events    []Event
	// Requeue asks for another pass at once (the plan was cut to fit a
	// transaction); RequeueAfter for a timed one (backoff, deadline, TTL).
	Requeue      bool
	RequeueAfter time.Duration

	writesLeft int // pod writes this plan may still add (podWrites)
}

// Empty reports whether the plan writes nothing besides an unchanged status.
func (p *Plan) Empty(old *v1.JobStatus) bool {
	return len(p.Create) == 0 && len(p.Count) == 0 && len(p.Adopt) == 0 && len(p.Terminate) == 0 && !p.DeleteJob &&
		proto.Equal(old, p.Status)
}

// DefaultMaxPendingPods is how many of a Job's pods may wait unplaced (not
// yet bound to a node) before the Job creates no more (SPEC B1): a Job with
// parallelism 10^9 and a nodeSelector nothing matches must not fill etcd with
// pending pods. More are created as these are placed. Kubernetes has no such
// bound; 1,000 pending pods is far more than a scheduler pass places at once
// (60 a transaction) and far less than etcd's quota.
const DefaultMaxPendingPods = 1000

// Condition type and reason a Job carries while it creates no more pods
// because too many of its pods are pending unplaced (SPEC B1).
const (
	CondPodCreationThrottled = "PodCreationThrottled"
	ReasonTooManyPendingPods = "TooManyPendingPods"
	ReasonPendingPodsPlaced  = "PendingPodsPlaced"
)

// Limits bound what one plan may create (SPEC B1).
type Limits struct {
	// MaxPendingPods bounds the Job's pods that are not yet bound to a node
	// (default DefaultMaxPendingPods).
	MaxPendingPods int
}

func (l Limits) maxPending() int {
	if l.MaxPendingPods <= 0 {
		return DefaultMaxPendingPods
	}
	return l.MaxPendingPods
}

// Namer makes pod names and uids; tests make them deterministic.
type Namer interface {
	PodName(job string, index int) string
	UID() string
}

// plan decides what to do with job, given all its pods and the time. It is
// pure: no I/O, no clock, no randomness beyond namer. pods may include
// orphans (no controller owner reference) that match the Job's selector:
// the plan adopts them (SPEC J14).
func plan(job *v1.Job, pods []*v1.Pod, now time.Time, namer Namer) *Plan {
	return planWithin(job, pods, now, namer, Limits{})
}

// planWithin is plan with lim instead of the default limits.
func planWithin(job *v1.Job, pods []*v1.Pod, now time.Time, namer Namer, lim Limits) *Plan {
	spec := job.GetSpec()
	old := job.GetStatus()
	if old == nil {
		old = &v1.JobStatus{}
	}
	st := proto.Clone(old).(*v1.JobStatus)
	p := &Plan{Status: st, writesLeft: podWrites(job)}
	indexed := spec.GetCompletionMode() == "Indexed"
	perIndex := indexed && spec.BackoffLimitPerIndex != nil
	ts := timestamppb.New(now)

	// Pods already counted (terminal, tracking finalizer gone) matter only
	// to the failure backoffs (J6, J16), which read all of them in any
	// order; every other step reads the rest, sorted by name so that a plan
	// is deterministic. A large Job's counted pods are most of its pods:
	// sorting and scanning them on every reconcile was a fifth of the
	// controller's CPU at the scale preset (docs/benchmarks.md).
	all := pods
	pods = actionable(pods)
	sort.Slice(pods, func(i, j int) bool { return pods[i].GetMetadata().GetName() < pods[j].GetMetadata().GetName() })

	// 0. Adopt matching orphans (J14): from now on they are the Job's
	// pods, tracked by its finalizer and counted like the others.
	for _, pod := range pods {
		if controllerRef(pod) == nil && pod.GetMetadata().GetDeletionTimestamp() == nil {
			adopt(job, pod)
			p.Adopt = append(p.Adopt, pod)
		}
	}

	// 1. Account for terminal pods not yet counted (J11), as many as
	// maxCountOpsPerPlan allows so that the plan fits one transaction. What
	// a failure means is the pod failure policy's decision (J15).
	completed := parseIndexes(st.CompletedIndexes)
	var active, terminating []*v1.Pod
	var failJob *failure
	uncountedLeft, countedOps := 0, 0
	for _, pod := range pods {
		switch {
		case isTerminal(pod) && hasFinalizer(pod, FinalizerTracking):
			if countedOps+countOps(pod) > maxCountOpsPerPlan || !p.take(countOps(pod)) {
				uncountedLeft++
				continue
			}
			countedOps += countOps(pod)
			p.Count = append(p.Count, pod)
			if pod.GetStatus().GetPhase() == PhaseSucceeded {
				if indexed {
					if i := podIndex(pod.GetMetadata().GetAnnotations()); i >= 0 && i < int(spec.GetCompletions()) {
						completed[i] = true
					}
				} else {
					st.Succeeded++
				}
				continue
			}
			f := failureAction(spec, pod)
			switch f.action {
			case ActionIgnore:
			case ActionFailJob:
				st.Failed++
				if failJob == nil {
					failJob = &f
				}
			default:
				st.Failed++
			}
		case isTerminating(pod):
			terminating = append(terminating, pod)
		case isActive(pod):
			active = append(active, pod)
		}
	}
	if indexed {
		st.CompletedIndexes = completed.String()
		st.Succeeded = int32(len(completed))
	}
	if uncountedLeft > 0 {
		p.Requeue = true
	}

	// Per-index backoff (J16): an index whose failures exceed
	// backoffLimitPerIndex, or that a FailIndex rule matched, is failed for
	// good and gets no more pods.
	failedIdx := indexSet{}
	var idxFailures map[int]int32
	if perIndex {
		failedIdx = parseIndexes(st.GetFailedIndexes())
		counts, failIndex := indexFailures(spec, all)
		idxFailures = counts
		for i, n := range counts {
			if n > spec.GetBackoffLimitPerIndex() {
				failIndex[i] = true
			}
		}
		for i := range failIndex {
			if i >= 0 && i < int(spec.GetCompletions()) && !completed[i] {
				failedIdx[i] = true
			}
		}
		st.FailedIndexes = proto.String(failedIdx.String())
	}

	// 2. Conditions already final: stop what still runs, keep counting.
	finished := hasCondition(st, CondComplete) || hasCondition(st, CondFailed)

	// 3. Suspend and resume (J9).
	suspended := spec.GetSuspend()
	if !finished {
		if suspended {
			if setCondition(st, CondSuspended, "True", ReasonJobSuspended, "Job suspended", ts) {
				p.Events = append(p.Events, Event{Type: "Normal", Reason: "Suspended", Message: "Job suspended"})
			}
		} else if c := condition(st, CondSuspended); c != nil && c.Status == "True" {
			setCondition(st, CondSuspended, "False", ReasonJobResumed, "Job resumed", ts)
			st.StartTime = ts
			p.Events = append(p.Events, Event{Type: "Normal", Reason: "Resumed", Message: "Job resumed"})
		}
		if !suspended && st.StartTime == nil {
			st.StartTime = ts
		}
	}

	// 4. Failure: active deadline (J7) first, then the failure policy
	// (J15), the backoff limit counting in-place restarts (J5, J6), and the
	// failed indexes (J16).
	successMet := hasCondition(st, CondSuccessCriteriaMet)
	if !finished && !successMet {
		backoffLimit := int32(6)
		if spec.BackoffLimit != nil {
			backoffLimit = spec.GetBackoffLimit()
		}
		hasDeadline := spec.ActiveDeadlineSeconds != nil && st.StartTime != nil && !suspended
		var deadlineAt time.Time
		if hasDeadline {
			deadlineAt = st.StartTime.AsTime().Add(time.Duration(spec.GetActiveDeadlineSeconds()) * time.Second)
		}
		switch {
		case hasDeadline && !now.Before(deadlineAt):
			p.fail(st, ReasonDeadlineExceeded, "Job was active longer than specified deadline", ts)
			finished = true
		case failJob != nil:
			p.fail(st, ReasonPodFailurePolicy, failJob.message, ts)
			finished = true
		case int64(st.Failed)+int64(onFailureRestarts(spec, active)) > int64(backoffLimit):
			p.fail(st, ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit", ts)
			finished = true
		case perIndex && spec.MaxFailedIndexes != nil && int32(len(failedIdx)) > spec.GetMaxFailedIndexes():
			p.fail(st, ReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes", ts)
			finished = true
		case hasDeadline:
			p.requeueAfter(deadlineAt.Sub(now))
		}
	}

	// 4b. Success policy (J16): once a rule matches, the Job has succeeded;
	// its other pods are stopped and it completes when they are terminal.
	if !finished && !successMet && indexed {
		if r := successRule(spec, completed); r >= 0 {
			msg := fmt.Sprintf("Matched rules at index %d", r)
			setCondition(st, CondSuccessCriteriaMet, "True", ReasonSuccessPolicy, msg, ts)
			p.Events = append(p.Events, Event{Type: "Normal", Reason: CondSuccessCriteriaMet, Message: msg})
			successMet = true
		}
	}

	// 5. How many pods should be active.
	parallelism := int32(1)
	if spec.Parallelism != nil {
		parallelism = spec.GetParallelism()
	}
	var want int32
	switch {
	case finished || suspended || successMet:
		want = 0
	case indexed:
		want = min(parallelism, spec.GetCompletions()-st.Succeeded-int32(len(failedIdx)))
	case spec.Completions == nil: // work queue (J3)
		want = parallelism
		if st.Succeeded > 0 {
			// No new pods once one succeeded; the others may finish.
			want = min(parallelism, int32(len(active)))
		}
	default:
		want = min(parallelism, spec.GetCompletions()-st.Succeeded)
	}
	want = max(want, 0)

	// 6. Too many: terminate the cheapest to lose (J2, J9).
	if n := int32(len(active)) - want; n > 0 {
		reason := TerminationExcess
		switch {
		case finished || successMet:
			reason = TerminationJobFinished
		case suspended:
			reason = TerminationSuspended
		}
		victims := append([]*v1.Pod(nil), active...)
		sortForTermination(victims)
		for _, v := range victims[:min(int(n), len(victims))] {
			if len(p.Terminate) >= maxTermsPerPlan || !p.take(2) {
				p.Requeue = true
				break
			}
			p.Terminate = append(p.Terminate, Termination{Pod: v, Reason: reason})
		}
	}

	// 7. Too few: create, unless waiting out the failure backoff (J6). Pods
	// still terminating count as active: with podReplacementPolicy Failed a
	// replacement starts only once the old pod is terminal (J13, J16).
	inflight := int32(len(active) + len(terminating))
	if spec.GetPodReplacementPolicy() == "TerminatingOrFailed" {
		inflight = int32(len(active))
	}
	n := want - inflight
	if finished || uncountedLeft > 0 {
		n = 0
	}
	// B1: at most lim.maxPending() of the Job's pods wait unplaced. The
	// scheduler binding one is a pod change that reconciles the Job again,
	// so more are created as they are placed.
	throttled := false
	if n > 0 {
		unplaced := 0
		for _, a := range active {
			if a.GetSpec().GetNodeName() == "" {
				unplaced++
			}
		}
		// Throttled: this plan fills the room left and the Job wants more
		// (a plan that creates maxCreatesPerPlan pods and is cut to fit a
		// transaction is not held back by the bound).
		if room := int32(max(lim.maxPending()-unplaced, 0)); n > room {
			n, throttled = room, room < maxCreatesPerPlan
		}
	}
	p.throttle(st, throttled, lim.maxPending(), ts)
	if n > 0 {
		switch {
		case perIndex:
			p.create(job, active, terminating, completed, failedIdx, idxFailures, indexReadyAt(spec, all), int(n), now, namer)
		default:
			if wait := backoffRemaining(spec, all, now); wait > 0 {
				p.requeueAfter(wait)
			} else {
				p.create(job, active, terminating, completed, nil, nil, nil, int(n), now, namer)
			}
		}
	}

	// 8. Completion (J1, J3, J4, J16).
	stillRunning := len(active) + len(terminating) + len(p.Create)
	if !finished && uncountedLeft == 0 {
		done := false
		switch {
		case successMet:
			done = true
		case indexed:
			done = st.Succeeded+int32(len(failedIdx)) >= spec.GetCompletions()
		case spec.Completions != nil:
			done = st.Succeeded >= spec.GetCompletions()
		default:
			done = st.Succeeded > 0 && stillRunning == 0
		}
		if done {
			if stillRunning > 0 {
				// Stop the rest first; finish once they are terminal.
				for _, a := range active {
					if !p.terminating(a) && len(p.Terminate) < maxTermsPerPlan && p.take(2) {
						p.Terminate = append(p.Terminate, Termination{Pod: a, Reason: TerminationJobFinished})
					}
				}
			} else if len(failedIdx) > 0 && !successMet {
				p.fail(st, ReasonFailedIndexes, "Job has failed indexes", ts)
				finished = true
			} else {
				reason, msg := ReasonCompleted, "Reached expected number of succeeded pods"
				if successMet {
					reason, msg = ReasonSuccessPolicy, condition(st, CondSuccessCriteriaMet).GetMessage()
				}
				setCondition(st, CondComplete, "True", reason, msg, ts)
				st.CompletionTime = ts
				p.Events = append(p.Events, Event{Type: "Normal", Reason: "Completed", Message: "Job completed"})
				finished = true
			}
		}
	}

	// 9. Status counters (J10).
	st.Active = 0
	var ready int32
	for _, a := range active {
		if !p.terminating(a) {
			st.Active++
			if isReady(a) {
				ready++
			}
		}
	}
	st.Active += int32(len(p.Create))
	st.Ready = proto.Int32(ready)
	st.Terminating = proto.Int32(int32(len(terminating) + len(p.Terminate)))

	// 10. TTL after finished (J8).
	if finished && spec.TtlSecondsAfterFinished != nil {
		if at := finishedAt(st); at != nil {
			left := at.AsTime().Add(time.Duration(spec.GetTtlSecondsAfterFinished()) * time.Second).Sub(now)
			if left <= 0 {
				p.DeleteJob = true
			} else {
				p.requeueAfter(left)
			}
		}
	}
	return p
}

// actionable returns, in a new slice, the pods a plan still acts on: all but
// the terminal pods whose outcome the Job's status already holds (no
// tracking finalizer). Orphans are kept: adopting one is an action.
func actionable(pods []*v1.Pod) []*v1.Pod {
	out := make([]*v1.Pod, 0, len(pods)/4)
	for _, pod := range pods {
		if isTerminal(pod) && !hasFinalizer(pod, FinalizerTracking) && controllerRef(pod) != nil {
			continue
		}
		out = append(out, pod)
	}
	return out
}

func (p *Plan) fail(st *v1.JobStatus, reason, msg string, ts *timestamppb.Timestamp) {
	setCondition(st, CondFailed, "True", reason, msg, ts)
	p.Events = append(p.Events, Event{Type: "Warning", Reason: reason, Message: msg})
}

func (p *Plan) requeueAfter(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if p.RequeueAfter == 0 || d < p.RequeueAfter {
		p.RequeueAfter = d
	}
}

// throttle sets or clears the Job's PodCreationThrottled condition (SPEC
// B1): True while the plan creates fewer pods than it wants because
// maxPending of them wait unplaced. Only a change of status is written, so a
// throttled Job costs no write per reconcile.
func (p *Plan) throttle(st *v1.JobStatus, throttled bool, maxPending int, ts *timestamppb.Timestamp) {
	if throttled {
		msg := fmt.Sprintf("%d pods of this Job are pending, not yet placed on a node (at most %d may be; "+
			"see `drover describe pod` for why they do not fit): more are created as they are placed", maxPending, maxPending)
		if setCondition(st, CondPodCreationThrottled, "True", ReasonTooManyPendingPods, msg, ts) {
			p.Events = append(p.Events, Event{Type: "Warning", Reason: ReasonTooManyPendingPods, Message: msg})
		}
		return
	}
	if c := condition(st, CondPodCreationThrottled); c != nil && c.GetStatus() == "True" {
		setCondition(st, CondPodCreationThrottled, "False", ReasonPendingPodsPlaced, "pending pods were placed", ts)
	}
}

func (p *Plan) terminating(pod *v1.Pod) bool {
	for _, t := range p.Terminate {
		if t.Pod == pod {
			return true
		}
	}
	return false
}

// create adds up to n new pods. Indexed Jobs get the lowest indexes that have
// neither succeeded, nor failed for good, nor a pod still running (J4, J13);
// with backoffLimitPerIndex an index waits out its own backoff (readyAt) and
// its pods carry the index's failure count (J16).
func (p *Plan) create(job *v1.Job, active, terminating []*v1.Pod, completed, failed indexSet, failures map[int]int32, readyAt map[int]time.Time, n int, now time.Time, namer Namer) {
	if m := min(maxCreatesPerPlan, p.writesLeft); n > m {
		n = m
		p.Requeue = true
	}
	p.writesLeft -= n
	name := job.GetMetadata().GetName()
	if job.GetSpec().GetCompletionMode() != "Indexed" {
		for range n {
			pod := newPod(job, namer.PodName(name, -1), namer.UID(), now)
			p.Create = append(p.Create, pod)
			p.Events = append(p.Events, Event{Type: "Normal", Reason: "SuccessfulCreate", Message: "Created pod: " + pod.Metadata.Name})
		}
		return
	}
	busy := indexSet{}
	for _, pod := range append(append([]*v1.Pod(nil), active...), terminating...) {
		busy[podIndex(pod.GetMetadata().GetAnnotations())] = true
	}
	for i := 0; i < int(job.GetSpec().GetCompletions()) && len(p.Create) < n; i++ {
		if completed[i] || busy[i] || failed[i] {
			continue
		}
		if at, ok := readyAt[i]; ok && now.Before(at) {
			p.requeueAfter(at.Sub(now))
			continue
		}
		pod := newPod(job, namer.PodName(name, i), namer.UID(), now)
		setIndex(pod, name, i)
		if failures != nil {
			pod.Metadata.Annotations[AnnotationIndexFailureCount] = strconv.Itoa(int(failures[i]))
		}
		p.Create = append(p.Create, pod)
		p.Events = append(p.Events, Event{Type: "Normal", Reason: "SuccessfulCreate", Message: "Created pod: " + pod.Metadata.Name})
	}
}

// setIndex gives an Indexed Job's pod its index: annotation, label,
// JOB_COMPLETION_INDEX and hostname <job>-<index> (SPEC J4).
func setIndex(pod *v1.Pod, job string, i int) {
	s := strconv.Itoa(i)
	pod.Metadata.Annotations[AnnotationIndex] = s
	pod.Metadata.Labels[AnnotationIndex] = s
	pod.Spec.Hostname = fmt.Sprintf("%s-%d", job, i)
	for _, c := range pod.Spec.Containers {
		c.Env = append(c.Env, &v1.EnvVar{Name: "JOB_COMPLETION_INDEX", Value: s})
	}
}
