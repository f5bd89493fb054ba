package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

func job(name string) *v1.Job {
	return &v1.Job{ApiVersion: "batch/v1", Kind: "Job", Metadata: &v1.ObjectMeta{Name: name, Namespace: "default"}}
}

func TestCRUDAndRevisions(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	s := store.New(cli)
	ctx := context.Background()
	j, err := s.Jobs().Create(ctx, job("a"))
	if err != nil {
		t.Fatal(err)
	}
	if j.Metadata.ResourceVersion == "" {
		t.Fatal("create did not set resourceVersion")
	}
	if _, err := s.Jobs().Create(ctx, job("a")); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second create: got %v, want ErrAlreadyExists", err)
	}
	got, err := s.Jobs().Get(ctx, "default", "a")
	if err != nil || got.Metadata.ResourceVersion != j.Metadata.ResourceVersion {
		t.Fatalf("get: %v rv %s want %s", err, got.GetMetadata().GetResourceVersion(), j.Metadata.ResourceVersion)
	}
	// The stored value is plain JSON without resourceVersion (O3).
	raw, err := cli.Get(ctx, "/drover/jobs/default/a")
	if err != nil || len(raw.Kvs) != 1 {
		t.Fatalf("raw get: %v", err)
	}
	if want := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a","namespace":"default"}}`; compactJSON(t, raw.Kvs[0].Value) != want {
		t.Fatalf("stored %s, want %s", raw.Kvs[0].Value, want)
	}
	stale := got
	got.Metadata.Labels = map[string]string{"x": "1"}
	if _, err := s.Jobs().Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	stale.Metadata.ResourceVersion = j.Metadata.ResourceVersion
	if _, err := s.Jobs().Update(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
	if err := s.Jobs().Delete(ctx, "default", "a", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Jobs().Get(ctx, "default", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := s.Jobs().Delete(ctx, "default", "a", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
}

func TestListPagesAndNamespaces(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	s := store.New(cli)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if _, err := s.Jobs().Create(ctx, job(n)); err != nil {
			t.Fatal(err)
		}
	}
	other := job("z")
	other.Metadata.Namespace = "other"
	if _, err := s.Jobs().Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	page, rev, cont, err := s.Jobs().ListPage(ctx, "default", 2, "", 0)
	if err != nil || len(page) != 2 || cont == "" {
		t.Fatalf("page 1: %d items cont %q err %v", len(page), cont, err)
	}
	var names []string
	for _, j := range page {
		names = append(names, j.Metadata.Name)
	}
	// A write between pages: the later pages are still read at the
	// first one's revision, and report that revision, so that a watch
	// from it delivers the write.
	if _, err := s.Jobs().Create(ctx, job("b2")); err != nil {
		t.Fatal(err)
	}
	for cont != "" {
		var r int64
		page, r, cont, err = s.Jobs().ListPage(ctx, "default", 2, cont, rev)
		if err != nil {
			t.Fatal(err)
		}
		if r != rev {
			t.Fatalf("a later page reports revision %d, want the first page's %d", r, rev)
		}
		for _, j := range page {
			names = append(names, j.Metadata.Name)
		}
	}
	if len(names) != 5 || names[0] != "a" || names[4] != "e" {
		t.Fatalf("paged names %v", names)
	}
	all, _, err := s.Jobs().List(ctx, "")
	if err != nil || len(all) != 7 {
		t.Fatalf("all namespaces: %d %v", len(all), err)
	}
}

// TestFencedWriteFailsAfterLeadershipMoves shows L1: a Store fenced by an
// election key cannot write once that key is gone.
func TestFencedWriteFailsAfterLeadershipMoves(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	ctx := context.Background()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	el := concurrency.NewElection(sess, store.LeaderElection)
	if err := el.Campaign(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	var fencedCalls int
	fenced := store.New(cli).Fenced(el.Key(), el.Rev(), func() { fencedCalls++ })
	if _, err := fenced.Txn().Create(job("one")).Commit(ctx); err != nil {
		t.Fatalf("leader write: %v", err)
	}
	// Another leader can only be elected once this session is gone.
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	sess2, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	defer sess2.Close()
	el2 := concurrency.NewElection(sess2, store.LeaderElection)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := el2.Campaign(cctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := fenced.Txn().Create(job("two")).Commit(ctx); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("deposed leader write: got %v, want ErrNotLeader", err)
	}
	if fencedCalls != 1 {
		t.Fatalf("onFenced called %d times, want 1", fencedCalls)
	}
	if _, err := store.New(cli).Jobs().Get(ctx, "default", "two"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("fenced write landed: %v", err)
	}
}

func TestWatchReportsTypes(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	s := store.New(cli)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := s.Jobs().Create(ctx, job("w"))
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := store.Revision(first)
	ch, werr := s.Jobs().Watch(ctx, "default", rev)
	first.Metadata.Labels = map[string]string{"a": "b"}
	if _, err := s.Jobs().Update(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Jobs().Delete(ctx, "default", "w", 0); err != nil {
		t.Fatal(err)
	}
	var types []store.EventType
	for ev := range ch {
		types = append(types, ev.Type)
		if ev.Type == store.Deleted {
			if ev.Object.Metadata.Labels["a"] != "b" {
				t.Fatalf("delete event lost the last object: %v", ev.Object)
			}
			cancel()
		}
	}
	if err := werr(); err != nil {
		t.Fatal(err)
	}
	if len(types) != 2 || types[0] != store.Modified || types[1] != store.Deleted {
		t.Fatalf("events %v", types)
	}
}
