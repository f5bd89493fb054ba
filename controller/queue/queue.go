// Package queue is the controller's work queue: keys are de-duplicated, a key
// being processed is never handed to a second worker, failed keys are retried
// with exponential backoff, and AddAfter schedules timed work. The loop that
// drains it (Run) is written once here, with panic recovery.
package queue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Queue holds keys to reconcile. It is safe for concurrent use.
type Queue struct {
	clk clock.Clock

	mu         sync.Mutex
	cond       *sync.Cond
	ready      []string
	dirty      map[string]bool // queued or to be requeued after processing
	processing map[string]bool
	waiting    waitHeap
	waitIndex  map[string]*waitItem
	failures   map[string]int
	shutdown   bool
	// timer fires at timerAt; its goroutine ends when it fires or when
	// timerStop is closed (re-armed earlier, or ShutDown). timers counts
	// those goroutines so that ShutDown can wait for them.
	timer     clock.Timer
	timerAt   time.Time
	timerStop chan struct{}
	timers    sync.WaitGroup

	// BaseDelay and MaxDelay bound the retry backoff of a failing key.
	BaseDelay, MaxDelay time.Duration
}

// New returns an empty queue using clk for delays.
func New(clk clock.Clock) *Queue {
	q := &Queue{
		clk:        clk,
		dirty:      map[string]bool{},
		processing: map[string]bool{},
		waitIndex:  map[string]*waitItem{},
		failures:   map[string]int{},
		BaseDelay:  5 * time.Millisecond,
		MaxDelay:   30 * time.Second,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key now (a no-op if it is already queued).
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key string) {
	if q.shutdown || q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.processing[key] {
		return // requeued when Done
	}
	q.ready = append(q.ready, key)
	q.cond.Signal()
}

// AddAfter queues key once d has passed; an earlier pending time wins.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := q.clk.Now().Add(d)
	if it, ok := q.waitIndex[key]; ok {
		if at.Before(it.at) {
			it.at = at
			heap.Fix(&q.waiting, it.index)
		}
	} else {
		it := &waitItem{key: key, at: at}
		heap.Push(&q.waiting, it)
		q.waitIndex[key] = it
	}
	q.armLocked()
}

// armLocked makes sure a timer fires at the earliest waiting time. A timer
// already armed for a later time is stopped and its goroutine ended: a
// stopped timer's channel never delivers, so waiting on it alone would leak
// the goroutine (issue 13 #8).
func (q *Queue) armLocked() {
	if q.shutdown || len(q.waiting) == 0 {
		return
	}
	next := q.waiting[0].at
	if q.timer != nil && !q.timerAt.After(next) {
		return
	}
	q.stopTimerLocked()
	q.timerAt = next
	t := q.clk.NewTimer(next.Sub(q.clk.Now()))
	stop := make(chan struct{})
	q.timer, q.timerStop = t, stop
	q.timers.Add(1)
	go func() {
		defer q.timers.Done()
		select {
		case <-t.C():
		case <-stop:
			return
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.timer != t {
			return // re-armed or shut down meanwhile; stop is closed
		}
		q.timer, q.timerStop = nil, nil
		q.promoteLocked()
	}()
}

// stopTimerLocked stops the armed timer, if any, and ends its goroutine.
func (q *Queue) stopTimerLocked() {
	if q.timer == nil {
		return
	}
	q.timer.Stop()
	close(q.timerStop)
	q.timer, q.timerStop = nil, nil
}

// promoteLocked moves due keys from waiting to ready.
func (q *Queue) promoteLocked() {
	now := q.clk.Now()
	for len(q.waiting) > 0 && !q.waiting[0].at.After(now) {
		it := heap.Pop(&q.waiting).(*waitItem)
		delete(q.waitIndex, it.key)
		q.addLocked(it.key)
	}
	q.armLocked()
}

// Retry queues key after a backoff that doubles with each consecutive failure.
func (q *Queue) Retry(key string) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	d := q.BaseDelay << min(n, 30)
	if d > q.MaxDelay || d < 0 {
		d = q.MaxDelay
	}
	q.AddAfter(key, d)
}

// Failures is how many times in a row key has been retried after failing
// (0 once Forget has been called).
func (q *Queue) Failures(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[key]
}

// Forget resets key's failure count.
func (q *Queue) Forget(key string) {
	q.mu.Lock()
	delete(q.failures, key)
	q.mu.Unlock()
}

// Get blocks until a key is ready and marks it processing; ok is false after
// ShutDown. The caller must call Done(key).
func (q *Queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ready) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key, q.ready = q.ready[0], q.ready[1:]
	delete(q.dirty, key)
	q.processing[key] = true
	return key, true
}

// Done ends processing of key; if it was added meanwhile it is queued again.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] {
		q.ready = append(q.ready, key)
		q.cond.Signal()
	}
}

// Len is the number of keys ready to process.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready)
}

// ShutDown makes Get return false; queued and waiting keys are dropped. It
// returns once the queue's timer goroutine has ended.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	q.shutdown = true
	q.stopTimerLocked()
	q.cond.Broadcast()
	q.mu.Unlock()
	q.timers.Wait()
}

// Result tells the loop what to do after a successful reconcile.
type Result struct {
	// RequeueAfter > 0 reconciles the key again after that long.
	RequeueAfter time.Duration
	// Requeue reconciles the key again at once (after other queued keys).
	Requeue bool
}

// ReconcileFunc reconciles one key. Returning an error retries the key with
// backoff, unless the error wraps ErrTerminal.
type ReconcileFunc func(ctx context.Context, key string) (Result, error)

// ErrTerminal marks an error that retrying cannot fix.
var ErrTerminal = errors.New("queue: terminal error")

// Run drains q with workers goroutines until ctx ends, then shuts q down and
// waits for the workers.
//
// If ctx carries an Observer (WithObserver), Run reports q and every
// reconcile to it under the last segment of lg's name ("job", "node" …).
// WithFailureReporter adds a FailureReporter told of every failure.
func Run(ctx context.Context, q *Queue, workers int, lg *zap.Logger, fn ReconcileFunc, opts ...Option) {
	l := &loop{q: q, lg: lg, fn: fn, obs: ObserverFrom(ctx)}
	for _, o := range opts {
		o(l)
	}
	l.name = lg.Name()
	if i := strings.LastIndexByte(l.name, '.'); i >= 0 {
		l.name = l.name[i+1:]
	}
	if l.obs != nil {
		l.obs.QueueStarted(l.name, q)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, ok := q.Get()
				if !ok {
					return
				}
				l.process(ctx, key)
			}
		}()
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

// Option configures Run.
type Option func(*loop)

// WithFailureReporter makes Run tell r of every failed reconcile (after
// logging it) and of the first success after failures.
func WithFailureReporter(r FailureReporter) Option {
	return func(l *loop) { l.rep = r }
}

// FailureReporter is told about failing keys, so that an error that repeats
// can be made visible on its object (issue 13 #4; see event.Repeats). Its
// methods are called from Run's workers, one key at a time.
type FailureReporter interface {
	// Failed is called after a reconcile of key failed with err, the
	// failures-th time in a row.
	Failed(ctx context.Context, key string, err error, failures int)
	// Recovered is called after a reconcile of key succeeded that had
	// failed before.
	Recovered(key string)
}

// loop is one Run: what each of its workers needs.
type loop struct {
	q    *Queue
	lg   *zap.Logger
	fn   ReconcileFunc
	name string
	obs  Observer
	rep  FailureReporter
}

func (l *loop) process(ctx context.Context, key string) {
	q := l.q
	defer q.Done(key)
	start := time.Now()
	res, err := func() (res Result, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		return l.fn(ctx, key)
	}()
	if l.obs != nil {
		l.obs.Reconciled(l.name, time.Since(start), err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: nothing to retry
		}
		terminal := isTerminal(err)
		n := q.Failures(key)
		if !terminal {
			n++ // Retry counts this failure
		}
		logFailure(l.lg, key, err, terminal, n)
		if terminal {
			return
		}
		if l.rep != nil {
			l.rep.Failed(ctx, key, err, n)
		}
		q.Retry(key) // last: the next attempt starts after this one is reported
		return
	}
	if l.rep != nil && q.Failures(key) > 0 {
		l.rep.Recovered(key)
	}
	q.Forget(key)
	switch {
	case res.Requeue:
		q.Add(key)
	case res.RequeueAfter > 0:
		q.AddAfter(key, res.RequeueAfter)
	}
}

// logFailure logs a failed reconcile at Error with the key, an id of its
// own (to tell one attempt's lines from the next's) and how many times in
// a row the key has failed; a panic's stack is kept (issue 13 #9).
func logFailure(lg *zap.Logger, key string, err error, terminal bool, failures int) {
	fields := []zap.Field{
		zap.String("key", key),
		zap.String("reconcile_id", uuid.NewString()),
		zap.Int("failures", failures),
		zap.Bool("terminal", terminal),
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		lg.Error("reconcile panicked", append(fields, zap.String("panic", fmt.Sprint(pe.Value)), zap.ByteString("stack", pe.Stack))...)
		return
	}
	lg.Error("reconcile failed", append(fields, zap.Error(err))...)
}

// PanicError is the error of a reconcile that panicked: the value it
// panicked with and the goroutine's stack where it did. Run retries the key
// like any other failure.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Observer is told about the queues Run drains and their reconciles, for
// metrics. Its methods must not block.
type Observer interface {
	// QueueStarted is called when Run starts draining q for controller.
	QueueStarted(controller string, q *Queue)
	// Reconciled is called after each reconcile with its duration and error
	// (a *PanicError if it panicked).
	Reconciled(controller string, d time.Duration, err error)
}

type observerKey struct{}

// WithObserver returns a ctx that makes Run report to obs.
func WithObserver(ctx context.Context, obs Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, obs)
}

// ObserverFrom returns the Observer ctx carries, or nil; loops that do not
// use Run (the scheduler) report their passes to it.
func ObserverFrom(ctx context.Context) Observer {
	obs, _ := ctx.Value(observerKey{}).(Observer)
	return obs
}

func isTerminal(err error) bool { return errors.Is(err, ErrTerminal) }

type waitItem struct {
	key   string
	at    time.Time
	index int
}

type waitHeap []*waitItem

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *waitHeap) Push(x any)        { it := x.(*waitItem); it.index = len(*h); *h = append(*h, it) }
func (h *waitHeap) Pop() any          { old := *h; it := old[len(old)-1]; *h = old[:len(old)-1]; return it }

// ConflictRetry is how soon a key is retried after its write lost a
// compare-and-swap race (the cache was behind; it catches up within ms).
const ConflictRetry = 10 * time.Millisecond
