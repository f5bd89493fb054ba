package cache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/drover-dev/drover/controller/cache"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// CronJobs and DaemonSets are held by key and uid, and handlers see their
// adds, updates and deletes (with the last state) like any other kind.
func TestCronJobsAndDaemonSets(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := cache.New(st, zaptest.NewLogger(t))
	var mu sync.Mutex
	var deleted []string
	ca.AddHandler(func(ch cache.Change) {
		if ch.New == nil {
			mu.Lock()
			deleted = append(deleted, ch.Old.GetMetadata().GetName())
			mu.Unlock()
		}
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = ca.Run(ctx) }()
	defer func() { cancel(); <-done }()

	cj := &v1.CronJob{Metadata: &v1.ObjectMeta{Name: "cj", Namespace: "default", Uid: "cj-uid"}}
	ds := &v1.DaemonSet{Metadata: &v1.ObjectMeta{Name: "ds", Namespace: "ns2", Uid: "ds-uid"}}
	if _, err := st.CronJobs().Create(ctx, cj); err != nil {
		t.Fatal(err)
	}
	rev, err := st.Txn().Create(ds).Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait := func(rev int64) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := ca.WaitForRevision(wctx, rev); err != nil {
			t.Fatal(err)
		}
	}
	wait(rev)
	if ca.CronJob("default/cj") == nil || ca.CronJobByUID("cj-uid") == nil || len(ca.CronJobs()) != 1 {
		t.Fatal("cronjob not cached")
	}
	if ca.DaemonSet("ns2/ds") == nil || ca.DaemonSetByUID("ds-uid") == nil || len(ca.DaemonSets()) != 1 {
		t.Fatal("daemonset not cached")
	}
	if err := st.CronJobs().Delete(ctx, "default", "cj", 0); err != nil {
		t.Fatal(err)
	}
	rev, err = st.Txn().Delete(ca.DaemonSet("ns2/ds")).Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait(rev)
	if ca.CronJob("default/cj") != nil || ca.CronJobByUID("cj-uid") != nil || ca.DaemonSetByUID("ds-uid") != nil || len(ca.DaemonSets()) != 0 {
		t.Fatal("deleted objects still cached")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(deleted) != 2 || deleted[0] != "cj" || deleted[1] != "ds" {
		t.Fatalf("deletes seen %v", deleted)
	}
}
