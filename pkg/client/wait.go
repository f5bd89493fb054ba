package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Job condition types (SPEC J9, J10, J16, J18).
const (
	JobComplete           = "Complete"
	JobFailed             = "Failed"
	JobSuspended          = "Suspended"
	JobWaiting            = "Waiting"
	JobSuccessCriteriaMet = "SuccessCriteriaMet"
	JobFailureTarget      = "FailureTarget"
)

// ErrConditionUnreachable matches (errors.Is) WaitForJobCondition's error
// when the Job finished without the awaited condition (it failed while
// Complete was awaited, or the reverse) or was deleted.
var ErrConditionUnreachable = errors.New("client: the condition can no longer be met")

// unreachableError says why a condition can no longer be met; it matches
// ErrConditionUnreachable.
type unreachableError struct{ msg string }

// Error is the reason, such as `job "pi" is Failed: BackoffLimitExceeded`.
func (e *unreachableError) Error() string { return e.msg }

// Is matches ErrConditionUnreachable.
func (e *unreachableError) Is(target error) bool { return target == ErrConditionUnreachable }

// JobCondition returns the Job's condition of type t, or nil.
func JobCondition(job *v1.Job, t string) *v1.JobCondition {
	for _, c := range job.GetStatus().GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// HasJobCondition reports whether the Job has condition t with status True.
func HasJobCondition(job *v1.Job, t string) bool {
	c := JobCondition(job, t)
	return c != nil && c.GetStatus() == "True"
}

// WaitForJobCondition blocks until the Job ns/name has condition condType
// with status True and returns the Job as it was then. It reads the Job,
// then watches it from that version; progress, when not nil, is called with
// every version seen (the first one included), from this goroutine.
//
// It fails with an error wrapping ErrConditionUnreachable when the Job
// reaches Failed while another condition is awaited, Complete while another
// is awaited, or is deleted; with ErrNotFound when the Job does not exist;
// and with ctx's error (context.DeadlineExceeded for a timeout) wrapped with
// the Job's last counts when ctx ends first. A broken watch is re-established
// (Get, then Watch) with backoff.
func (c *Client) WaitForJobCondition(ctx context.Context, ns, name, condType string, progress func(*v1.Job)) (*v1.Job, error) {
	jobs := c.Jobs(orDefault(ns))
	var last *v1.Job
	timeout := func(err error) error {
		if last == nil {
			return err
		}
		s := last.GetStatus()
		return fmt.Errorf("waiting for condition %s on job %q (succeeded %d, active %d, failed %d): %w",
			condType, name, s.GetSucceeded(), s.GetActive(), s.GetFailed(), err)
	}
	// check reports whether waiting is over, and how.
	check := func(job *v1.Job) (bool, error) {
		last = job
		if progress != nil {
			progress(job)
		}
		if HasJobCondition(job, condType) {
			return true, nil
		}
		for _, terminal := range []string{JobFailed, JobComplete} {
			if terminal != condType && HasJobCondition(job, terminal) {
				cond := JobCondition(job, terminal)
				detail := ""
				if cond.GetReason() != "" {
					detail = ": " + cond.GetReason()
				}
				if cond.GetMessage() != "" {
					detail += ": " + cond.GetMessage()
				}
				return true, &unreachableError{fmt.Sprintf("job %q is %s%s", name, terminalWord(terminal), detail)}
			}
		}
		return false, nil
	}
	delay := c.opts.retryBase
	for {
		job, err := jobs.Get(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return last, timeout(ctx.Err())
			}
			return last, err
		}
		if done, err := check(job); done {
			return job, err
		}
		w, err := jobs.Watch(ctx, ListOptions{ResourceVersion: job.GetMetadata().GetResourceVersion()})
		if err != nil {
			if ctx.Err() != nil {
				return last, timeout(ctx.Err())
			}
			return last, err
		}
		for {
			ev, err := w.Recv()
			if err != nil {
				w.Close()
				if ctx.Err() != nil {
					return last, timeout(ctx.Err())
				}
				if !watchRetryable(err) {
					return last, err
				}
				break
			}
			if ev.Object.GetMetadata().GetName() != name {
				continue
			}
			if ev.Type == Deleted {
				w.Close()
				return last, &unreachableError{fmt.Sprintf("job %q was deleted", name)}
			}
			if ev.Type == Bookmark {
				continue
			}
			if done, err := check(ev.Object); done {
				w.Close()
				return ev.Object, err
			}
			delay = c.opts.retryBase
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, timeout(ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, c.opts.retryMax)
	}
}

func terminalWord(cond string) string {
	if cond == JobFailed {
		return "Failed"
	}
	return "Complete"
}

// watchRetryable reports whether a broken watch is worth opening again.
func watchRetryable(err error) bool {
	// Canceled or DeadlineExceeded while our context is still live: the
	// server ended the stream on its copy of our deadline (gRPC sends it
	// with the call), which can fire a moment before ours, or cancelled it
	// itself. Looking again is right either way; our own deadline ends
	// the wait (callers check ctx first).
	return errors.Is(err, io.EOF) || IsUnavailable(err) || IsGone(err) || IsConflict(err) || isWatchBehind(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
