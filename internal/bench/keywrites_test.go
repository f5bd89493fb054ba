package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/drover-dev/drover/internal/etcdtest"
	"github.com/drover-dev/drover/pkg/store"
)

func TestKeyWritesFromExposition(t *testing.T) {
	parse := func(text string) map[string]*dto.MetricFamily {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return fams
	}
	n, err := keyWrites(parse(`# HELP etcd_mvcc_put_total Total number of puts seen by this member.
# TYPE etcd_mvcc_put_total counter
etcd_mvcc_put_total 1.2e+06
etcd_mvcc_put_total_other 5
# TYPE etcd_mvcc_delete_total counter
etcd_mvcc_delete_total 34
`))
	if err != nil || n != 1_200_034 {
		t.Fatalf("%d, %v; want 1200034", n, err)
	}
	if _, err := keyWrites(parse("# TYPE etcd_mvcc_put_total counter\netcd_mvcc_put_total 3\n")); err == nil {
		t.Fatal("a missing delete counter was accepted")
	}
}

// TestKeyWriteCounters: etcd's counters and the watch count the same keys,
// one per put or delete, however the writes are batched in transactions.
func TestKeyWriteCounters(t *testing.T) {
	cli, srv := etcdtest.Start(t)
	ctx := context.Background()
	r, err := cli.Get(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	rev0 := r.Header.Revision
	m := startKeyWrites(ctx, cli, []string{srv.Endpoint()}, rev0)
	if _, ok := m.(*metricsCounter); !ok {
		t.Fatalf("counting with %s, want etcd's counters", m.how())
	}
	w := startWatchCounter(ctx, cli, rev0)

	var ops []clientv3.Op
	for i := range 10 {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("%sk%d", store.Root, i), "v"))
	}
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, store.Root+"k0", "w"); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Txn(ctx).Then(clientv3.OpDelete(store.Root+"k1"), clientv3.OpDelete(store.Root+"k2")).Commit()
	if err != nil {
		t.Fatal(err)
	}
	end := resp.Header.Revision
	for _, c := range []keyWriteCounter{m, w} {
		n, err := c.stop(ctx, end)
		if err != nil || n != 13 {
			t.Errorf("%s: %d, %v; want 13", c.how(), n, err)
		}
	}
	fb := startKeyWrites(ctx, cli, []string{"http://127.0.0.1:1"}, rev0)
	if n, err := fb.stop(ctx, end); err != nil || n != 13 {
		t.Errorf("fallback %s: %d, %v; want 13", fb.how(), n, err)
	}
	if _, ok := fb.(*watchCounter); !ok {
		t.Error("no fallback to the watch when etcd's metrics do not answer")
	}
}
