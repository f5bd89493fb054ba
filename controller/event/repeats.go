package event

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/queue"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// ReasonReconcileError is the reason of the Warning event recorded on an
// object whose reconcile keeps failing.
const ReasonReconcileError = "ReconcileError"

// Defaults of Repeats.
const (
	// DefaultRepeatFailures is how many failures in a row make an error
	// one that repeats.
	DefaultRepeatFailures = 3
	// DefaultRepeatPersist is how long the failures must have lasted: the
	// queue retries after 5 ms, 10 ms, 20 ms …, so a count alone would
	// report every blip of etcd.
	DefaultRepeatPersist = 30 * time.Second
	// DefaultRepeatEvery is the least time between two such events about
	// one object.
	DefaultRepeatEvery = 10 * time.Minute
	// maxMessage bounds an event's message (an error can quote a whole
	// object).
	maxMessage = 1024
)

// Repeats turns a reconcile error that repeats into a Warning event
// ReconcileError on the object and an Error log line (issue 13 #4): a key
// whose reconcile has failed at least Failures times in a row, over at least
// Persist, gets an event with the latest error; while it keeps failing it
// gets another at most every Every, whatever the message. A success starts
// the count again. It is a queue.FailureReporter for queue.Run.
type Repeats struct {
	st     *store.Store
	lg     *zap.Logger
	clk    clock.PassiveClock
	source string
	ref    func(key string) *v1.ObjectReference

	// Failures, Persist and Every default to DefaultRepeatFailures,
	// DefaultRepeatPersist and DefaultRepeatEvery; set them before use.
	Failures       int
	Persist, Every time.Duration

	mu   sync.Mutex
	keys map[string]*repeat
}

// repeat is what Repeats remembers of one failing key.
type repeat struct {
	since     time.Time // first failure of the current run
	lastEvent time.Time // zero if none was recorded
}

var _ queue.FailureReporter = (*Repeats)(nil)

// NewRepeats returns a Repeats recording events from source (such as
// "job-controller") through st; ref names the object of a key, or returns
// nil if there is none (deleted): then nothing is recorded.
func NewRepeats(st *store.Store, lg *zap.Logger, clk clock.PassiveClock, source string, ref func(key string) *v1.ObjectReference) *Repeats {
	return &Repeats{
		st: st, lg: lg, clk: clk, source: source, ref: ref,
		Failures: DefaultRepeatFailures, Persist: DefaultRepeatPersist, Every: DefaultRepeatEvery,
		keys: map[string]*repeat{},
	}
}

// Failed records a Warning event on key's object if its error now counts as
// repeating and none was recorded for it within Every. The event is written
// within 5 s or dropped.
func (r *Repeats) Failed(ctx context.Context, key string, err error, failures int) {
	now := r.clk.Now()
	r.mu.Lock()
	k := r.keys[key]
	if k == nil {
		k = &repeat{since: now}
		r.keys[key] = k
	}
	if failures <= 1 {
		k.since = now // a new run of failures
	}
	due := failures >= r.Failures && now.Sub(k.since) >= r.Persist &&
		(k.lastEvent.IsZero() || now.Sub(k.lastEvent) >= r.Every)
	since := k.since
	r.mu.Unlock()
	if !due {
		return
	}
	obj := r.ref(key)
	if obj == nil {
		return // deleted: nothing to warn on
	}
	r.mu.Lock()
	k.lastEvent = now // a key is reconciled by one worker at a time
	r.mu.Unlock()
	msg := truncate(err.Error(), maxMessage)
	r.lg.Error("reconcile keeps failing", zap.String("key", key), zap.Int("failures", failures),
		zap.Time("since", since), zap.Error(err))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	Record(wctx, r.st, r.lg, obj, r.source, []Event{{
		Type: "Warning", Reason: ReasonReconcileError,
		Message: fmt.Sprintf("%s (failed %d times in a row over %s)", msg, failures, now.Sub(since).Round(time.Second)),
	}}, now)
}

// Recovered forgets key's run of failures; when its last event is older
// than Every it forgets key altogether, so that the keys remembered are only
// those failing now or warned about lately.
func (r *Repeats) Recovered(key string) {
	now := r.clk.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys[key]
	if k == nil {
		return
	}
	if k.lastEvent.IsZero() || now.Sub(k.lastEvent) >= r.Every {
		delete(r.keys, key)
		return
	}
	k.since = now
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " …(truncated)"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
