package job

import (
	"slices"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Backoff bounds for re-creating pods after failures (SPEC J6).
const (
	BackoffBase = 10 * time.Second
	BackoffMax  = 6 * time.Minute
)

// backoffRemaining is how long to wait before creating a pod after failures
// (SPEC J6): 10 s doubling per failure that finished after the latest
// success, capped at 6 minutes, from the finish of the latest failure. Pods
// lost with their node (DisruptionTarget) are replaced at once (SPEC N2) and
// do not add to the delay, nor do failures the failure policy ignores
// (J15). It reads only stored pod times, so a new leader
// computes the same delay.
func backoffRemaining(spec *v1.JobSpec, pods []*v1.Pod, now time.Time) time.Duration {
	// Most Jobs have no failure that adds to the delay: then there is no
	// need to find the latest success among all their pods.
	if !slices.ContainsFunc(pods, func(pod *v1.Pod) bool { return addsBackoff(spec, pod) }) {
		return 0
	}
	var lastSuccess time.Time
	for _, pod := range pods {
		if pod.GetStatus().GetPhase() == PhaseSucceeded {
			if t := finishTime(pod); t.After(lastSuccess) {
				lastSuccess = t
			}
		}
	}
	n := 0
	var lastFailure time.Time
	for _, pod := range pods {
		if !addsBackoff(spec, pod) {
			continue
		}
		t := finishTime(pod)
		if !t.After(lastSuccess) {
			continue
		}
		n++
		if t.After(lastFailure) {
			lastFailure = t
		}
	}
	if n == 0 {
		return 0
	}
	return lastFailure.Add(BackoffDelay(n)).Sub(now)
}

// BackoffDelay is the delay after n consecutive failures: 10 s, 20 s, 40 s …
// capped at 6 minutes.
func BackoffDelay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := BackoffBase
	for i := 1; i < n; i++ {
		d *= 2
		if d >= BackoffMax {
			return BackoffMax
		}
	}
	return d
}

// addsBackoff reports whether a failed pod adds to the J6 backoff delay:
// not when the controller stopped it, not when it was lost with its node
// (N2), not when the failure policy ignores it.
func addsBackoff(spec *v1.JobSpec, pod *v1.Pod) bool {
	return pod.GetStatus().GetPhase() == PhaseFailed && !isDisrupted(pod) && !terminatedByController(pod) &&
		failureAction(spec, pod).action != ActionIgnore
}

// indexReadyAt returns, per index, when a new pod of it may be created
// after its failures (SPEC J6 applied per index for J16).
func indexReadyAt(spec *v1.JobSpec, pods []*v1.Pod) map[int]time.Time {
	n := map[int]int{}
	last := map[int]time.Time{}
	for _, pod := range pods {
		i := podIndex(pod.GetMetadata().GetAnnotations())
		if i < 0 || !addsBackoff(spec, pod) {
			continue
		}
		n[i]++
		if t := finishTime(pod); t.After(last[i]) {
			last[i] = t
		}
	}
	out := map[int]time.Time{}
	for i, k := range n {
		out[i] = last[i].Add(BackoffDelay(k))
	}
	return out
}
