package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/drover-dev/drover/pkg/store"
)

// keyWriteCounter counts the keys put and deleted in etcd over the run.
type keyWriteCounter interface {
	// stop returns the count since the counter started; end is the
	// revision of the run's end.
	stop(ctx context.Context, end int64) (int64, error)
	how() string
}

// startKeyWrites counts from etcd's own counters when its /metrics answers
// (the bench adds no load to what it measures), else with a watch on
// /drover/ from rev0 (each event one key; etcd then also sends the bench
// every write of the run).
func startKeyWrites(ctx context.Context, cli *clientv3.Client, endpoints []string, rev0 int64) keyWriteCounter {
	if len(endpoints) == 1 {
		m := &metricsCounter{url: strings.TrimSuffix(endpoints[0], "/") + "/metrics"}
		if n, err := m.read(ctx); err == nil {
			m.start = n
			return m
		}
	}
	return startWatchCounter(ctx, cli, rev0)
}

// metricsCounter reads etcd_mvcc_put_total + etcd_mvcc_delete_total: every
// put and delete etcd applied, one per key (a transaction counts each of
// its operations).
type metricsCounter struct {
	url   string
	start int64
}

func (m *metricsCounter) how() string {
	return "etcd's etcd_mvcc_put_total + etcd_mvcc_delete_total over the run"
}

func (m *metricsCounter) stop(ctx context.Context, _ int64) (int64, error) {
	n, err := m.read(ctx)
	if err != nil {
		return 0, err
	}
	return n - m.start, nil
}

func (m *metricsCounter) read(ctx context.Context) (int64, error) {
	fams, err := scrape(ctx, m.url)
	if err != nil {
		return 0, fmt.Errorf("bench: etcd metrics: %w", err)
	}
	return keyWrites(fams)
}

// keyWrites sums etcd's counters of keys put and deleted.
func keyWrites(fams map[string]*dto.MetricFamily) (int64, error) {
	var sum float64
	for _, name := range []string{"etcd_mvcc_put_total", "etcd_mvcc_delete_total"} {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			return 0, fmt.Errorf("bench: etcd metrics: no %s", name)
		}
		sum += f.GetMetric()[0].GetCounter().GetValue()
	}
	return int64(sum), nil
}

// watchCounter counts the events of a watch on /drover/.
type watchCounter struct {
	n      atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
	rev0   int64
}

func startWatchCounter(ctx context.Context, cli *clientv3.Client, rev0 int64) *watchCounter {
	wctx, cancel := context.WithCancel(ctx)
	w := &watchCounter{cancel: cancel, done: make(chan struct{}), rev0: rev0}
	go func() {
		defer close(w.done)
		for resp := range cli.Watch(wctx, store.Root, clientv3.WithPrefix(), clientv3.WithRev(rev0+1)) {
			w.n.Add(int64(len(resp.Events)))
		}
	}()
	return w
}

func (w *watchCounter) how() string { return "events of a watch on /drover/ over the run" }

func (w *watchCounter) stop(_ context.Context, end int64) (int64, error) {
	// Let the watch deliver up to the end revision, then stop it.
	deadline := time.Now().Add(5 * time.Second)
	for w.n.Load() < end-w.rev0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // only a floor: a key write is at least one revision
	}
	time.Sleep(100 * time.Millisecond)
	w.cancel()
	<-w.done
	return w.n.Load(), nil
}
