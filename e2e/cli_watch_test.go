package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/drover-dev/drover/internal/etcdtest"
	"github.com/drover-dev/drover/pkg/store"
)

// TestCLIWatchSurvivesControllerKill runs `drover get jobs -w` (the API
// address from DROVER_SERVER, SPEC I1) while the only controller is killed
// with SIGKILL, Jobs change in etcd meanwhile, and a new controller starts
// on the same address: the watch goes on by itself, and what it printed is
// exactly what etcd recorded, nothing missed or twice.
func TestCLIWatchSurvivesControllerKill(t *testing.T) {
	cli, srv := etcdtest.Start(t)
	c := &cluster{t: t, dir: t.TempDir(), etcdAddr: strings.TrimPrefix(srv.Endpoint(), "http://"), etcd: cli, api: freeAddr(t)}
	t.Cleanup(c.cleanup)
	ctrl := c.startController("ctrl-0", c.api, "2s")
	c.eventually("the API answers", 30*time.Second, func() error { _, err := c.cli("get", "jobs"); return err })

	suspended := "  suspend: true\n"
	jtApply(t, c, "seed", jobManifest("seed", suspended, "Never", c.dir, "true"))
	watch := c.start("watch", "get", "jobs", "-w", "-o", "name", "--output-watch-events")
	// lines are what the watch printed so far, one change a line.
	lines := func() []string {
		b, _ := os.ReadFile(watch.log)
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	printed := func(name string) func() error {
		return func() error {
			for _, l := range lines() {
				if strings.HasSuffix(l, " job.batch/"+name) {
					return nil
				}
			}
			return fmt.Errorf("watch printed %q", lines())
		}
	}
	jtEventually(t, "the watch lists the seed", 30*time.Second, printed("seed"))
	jtApply(t, c, "a", jobManifest("a", suspended, "Never", c.dir, "true"))
	jtEventually(t, "the watch sees a", 30*time.Second, printed("a"))

	ctrl.signal(syscall.SIGKILL)
	<-ctrl.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := store.New(cli)
	if err := st.Jobs().Delete(ctx, "default", "seed", 0); err != nil {
		t.Fatal(err)
	}
	j, err := st.Jobs().Get(ctx, "default", "a")
	if err != nil {
		t.Fatal(err)
	}
	j.Metadata.Name, j.Metadata.Uid, j.Metadata.ResourceVersion = "offline", "uid-offline", ""
	if _, err := st.Jobs().Create(ctx, j); err != nil {
		t.Fatal(err)
	}

	c.startController("ctrl-1", c.api, "2s")
	c.eventually("the new controller's API answers", 30*time.Second, func() error {
		_, err := c.cli("get", "jobs")
		return err
	})
	jtApply(t, c, "after", jobManifest("after", suspended, "Never", c.dir, "true"))
	jtEventually(t, "the watch sees after", 60*time.Second, printed("after"))
	last, err := st.Jobs().Get(ctx, "default", "after")
	if err != nil {
		t.Fatal(err)
	}
	var to int64
	fmt.Sscan(last.Metadata.ResourceVersion, &to)

	// etcd's own record of the Jobs, up to the creation of "after".
	var want []string
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	for resp := range cli.Watch(hctx, st.Jobs().Prefix("default"), clientv3.WithPrefix(), clientv3.WithRev(1)) {
		for _, ev := range resp.Events {
			typ := "MODIFIED"
			switch {
			case ev.Type == clientv3.EventTypeDelete:
				typ = "DELETED"
			case ev.IsCreate():
				typ = "ADDED"
			}
			name := string(ev.Kv.Key)[strings.LastIndex(string(ev.Kv.Key), "/")+1:]
			want = append(want, typ+" job.batch/"+name)
			if ev.Kv.ModRevision >= to {
				hcancel()
			}
		}
	}
	got := lines()
	// The watch began with a list ("ADDED seed"), then printed every
	// change after the list's revision: the rest must be the tail of
	// etcd's record, and include the changes made while no controller ran.
	if len(got) < 4 || got[0] != "ADDED job.batch/seed" {
		t.Fatalf("watch printed %q", got)
	}
	rest := got[1:]
	if len(rest) > len(want) || strings.Join(rest, "\n") != strings.Join(want[len(want)-len(rest):], "\n") {
		t.Fatalf("watch printed\n%s\nwant the tail of etcd's record\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []string{"DELETED job.batch/seed", "ADDED job.batch/offline", "ADDED job.batch/after"} {
		if !strings.Contains(strings.Join(rest, "\n"), w) {
			t.Errorf("watch did not print %q: %q", w, rest)
		}
	}
	t.Logf("watch printed %d lines across the controller kill", len(got))
}
