package queue

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestRearmLeaksNoGoroutine re-arms the queue's timer 100 times (each
// AddAfter is earlier than the last, as a conflict retry under a longer
// requeue is) and checks that at most one timer goroutine is alive while the
// queue runs and none after ShutDown (issue 13 #8; a leadership term shuts
// its queues down).
func TestRearmLeaksNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	base := runtime.NumGoroutine()
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := New(clk)
	for i := range 100 {
		q.AddAfter(fmt.Sprintf("k%d", i), time.Duration(1000-i)*time.Second)
	}
	// A stopped timer's goroutine ends asynchronously: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > base+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after 100 re-arms, want at most %d (one timer)", runtime.NumGoroutine(), base+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The one timer left still fires at the earliest time.
	clk.Step(901 * time.Second)
	for q.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("len %d after the earliest time passed, want 1", q.Len())
		}
		time.Sleep(time.Millisecond)
	}
	q.ShutDown()
}

// TestShutDownEndsTimerGoroutine: a pending timer's goroutine ends with the
// queue (issue 13 #8).
func TestShutDownEndsTimerGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	q := New(clocktesting.NewFakeClock(time.Unix(0, 0)))
	q.AddAfter("later", time.Hour)
	q.ShutDown()
	q.AddAfter("after-shutdown", time.Hour) // arms nothing
}
