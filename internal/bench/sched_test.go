package bench

import (
	"math"
	"runtime/metrics"
	"testing"
)

func TestQuantileSince(t *testing.T) {
	b := []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}
	h := func(c ...uint64) *metrics.Float64Histogram { return &metrics.Float64Histogram{Counts: c, Buckets: b} }
	for _, c := range []struct {
		name        string
		now, before *metrics.Float64Histogram
		q, want     float64
	}{
		{"upper bound of the p99 bucket", h(0, 99, 1, 0), h(0, 0, 0, 0), 0.99, 0.01},
		{"one more in the tail moves it", h(0, 98, 2, 0), h(0, 0, 0, 0), 0.99, 0.1},
		{"only what was added since counts", h(0, 1000, 1, 0), h(0, 901, 0, 0), 0.99, 0.01},
		{"the open last bucket gives its lower bound", h(0, 0, 0, 5), h(0, 0, 0, 0), 0.99, 0.1},
		{"nothing added", h(0, 5, 0, 0), h(0, 5, 0, 0), 0.99, 0},
		{"no histogram", nil, h(0, 0, 0, 0), 0.99, 0},
	} {
		if got := quantileSince(c.now, c.before, c.q); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if h := schedLatency(); h == nil || len(h.Counts) == 0 {
		t.Fatalf("runtime has no /sched/latencies histogram: %v", h)
	}
}
