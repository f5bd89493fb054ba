package bench

import (
	"math"
	"runtime/metrics"
	"slices"
)

// schedLatency is the Go runtime's histogram of how long goroutines of this
// process waited, runnable, before they ran (/sched/latencies:seconds).
// A renewal's answer waits that long before the heartbeat sees it, so
// its tail beside the renewal tail tells queueing inside the fleet's
// process from time spent in etcd or on the wire.
func schedLatency() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	h := s[0].Value.Float64Histogram()
	return &metrics.Float64Histogram{Counts: slices.Clone(h.Counts), Buckets: h.Buckets}
}

// quantileSince is the q quantile of what now holds beyond before (both
// from schedLatency, so with the same buckets), in seconds: the upper
// bound of the bucket it falls in, or that bucket's lower bound when the
// upper one is infinite. It is 0 when nothing was recorded in between.
func quantileSince(now, before *metrics.Float64Histogram, q float64) float64 {
	if now == nil || before == nil || len(now.Counts) != len(before.Counts) {
		return 0
	}
	var total uint64
	for i := range now.Counts {
		total += now.Counts[i] - before.Counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range now.Counts {
		seen += now.Counts[i] - before.Counts[i]
		if seen >= rank {
			if hi := now.Buckets[i+1]; !math.IsInf(hi, 1) {
				return hi
			}
			return now.Buckets[i]
		}
	}
	return 0
}
