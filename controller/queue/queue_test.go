package queue

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestDedupeAndProcessingExclusive(t *testing.T) {
	q := New(clocktesting.NewFakeClock(time.Unix(0, 0)))
	q.Add("a")
	q.Add("a")
	q.Add("b")
	if q.Len() != 2 {
		t.Fatalf("len %d, want 2", q.Len())
	}
	k, _ := q.Get()
	q.Add(k) // added while processing: not handed out again until Done
	k2, _ := q.Get()
	if k2 == k {
		t.Fatalf("key %s handed out twice", k)
	}
	if q.Len() != 0 {
		t.Fatalf("len %d, want 0 while %s is processing", q.Len(), k)
	}
	q.Done(k)
	if k3, _ := q.Get(); k3 != k {
		t.Fatalf("got %s, want requeued %s", k3, k)
	}
}

func TestAddAfterUsesClock(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := New(clk)
	q.AddAfter("later", 10*time.Second)
	q.AddAfter("later", 20*time.Second) // the earlier time wins
	if q.Len() != 0 {
		t.Fatal("queued before its time")
	}
	clk.Step(9 * time.Second)
	time.Sleep(10 * time.Millisecond)
	if q.Len() != 0 {
		t.Fatal("queued 1 s early")
	}
	clk.Step(time.Second)
	deadline := time.Now().Add(2 * time.Second)
	for q.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("not queued after 10 s of fake time")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRunRetriesErrorsButNotTerminal(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := New(clk)
	q.BaseDelay = 0 // retry at once
	var calls, terminalCalls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, q, 2, zaptest.NewLogger(t), func(ctx context.Context, key string) (Result, error) {
			if key == "terminal" {
				terminalCalls.Add(1)
				return Result{}, errors.Join(errors.New("bad"), ErrTerminal)
			}
			if calls.Add(1) < 3 {
				return Result{}, errors.New("transient")
			}
			if calls.Load() == 3 {
				panic("recovered")
			}
			return Result{}, nil
		})
		close(done)
	}()
	q.Add("terminal")
	q.Add("k")
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("calls %d, want 4 (2 errors, 1 panic, 1 success)", calls.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if terminalCalls.Load() != 1 {
		t.Fatalf("terminal error retried: %d calls", terminalCalls.Load())
	}
}
