package client_test

// The SDK against a real cluster (SPEC I1): embedded etcd, real controller
// replicas (controller.New, gRPC on 127.0.0.1) and a real worker running
// pods as local processes.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/controller"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/worker"
	"github.com/drover-dev/drover/worker/runtime/process"
)

// TestMain lets the test binary act as the process runtime's shim.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == process.ShimArg {
		os.Exit(process.ShimMain(os.Args[2]))
	}
	os.Exit(m.Run())
}

// replica is one running controller.
type replica struct {
	addr string
	stop func()
}

// startReplica runs a controller replica on listen until stop or the end
// of the test.
func startReplica(t *testing.T, cli *clientv3.Client, listen, identity string) *replica {
	t.Helper()
	c, err := controller.New(controller.Config{Etcd: cli, Listen: listen, Identity: identity, ElectionTTL: 2 * time.Second, Logger: zaptest.NewLogger(t).Named(identity)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	var once sync.Once
	r := &replica{addr: c.Addr(), stop: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(r.stop)
	return r
}

// startRealWorker runs a worker whose pods are local processes.
func startRealWorker(t *testing.T, cli *clientv3.Client, name string) {
	t.Helper()
	dir := t.TempDir()
	w, err := worker.New(worker.Config{NodeName: name, Etcd: cli, DataDir: dir, Logger: zaptest.NewLogger(t).Named(name),
		HeartbeatInterval: time.Second, LeaseTTL: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		local, err := process.New(process.Config{Root: filepath.Join(dir, "containers")})
		if err != nil {
			return
		}
		kctx, kcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer kcancel()
		infos, _ := local.List(kctx, nil)
		for _, info := range infos {
			_, _ = local.Stop(kctx, info.GetId(), 0)
		}
	})
}

func dial(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.New(ctxT(t), addr, client.WithRetry(8, 50*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func shJob(ns, name, script string) *v1.Job {
	return &v1.Job{Metadata: &v1.ObjectMeta{Name: name, Namespace: ns}, Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
		RestartPolicy: "Never",
		Containers:    []*v1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", script}}},
	}}}}
}

func suspendedJob(ns, name string) *v1.Job {
	j := shJob(ns, name, "true")
	suspend := true
	j.Spec.Suspend = &suspend
	return j
}

// TestIntegrationJobLifecycle covers every Job, Pod, Node and Event method,
// PodLogs, Leader and WaitForJobCondition on a real cluster (SPEC I1, J1,
// O4, L1, L3).
func TestIntegrationJobLifecycle(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	r := startReplica(t, cli, "127.0.0.1:0", "r1")
	startRealWorker(t, cli, "w1")
	c := dial(t, r.addr)
	ctx := ctxT(t)

	// Leader (L1): the only replica leads, and answered.
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l.Identity == "r1" && l.ServingIdentity == "r1" && l.Revision > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader = %+v, want r1", l)
		}
		time.Sleep(20 * time.Millisecond)
	}

	jobs := c.Jobs("default")
	jw, err := jobs.Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer jw.Close()

	// Create, with defaults and server fields; AlreadyExists on a second.
	created, err := jobs.Create(ctx, shJob("", "hello", "echo hello from $HOSTNAME; echo bye"))
	if err != nil {
		t.Fatal(err)
	}
	md := created.GetMetadata()
	if md.GetUid() == "" || md.GetResourceVersion() == "" || created.GetSpec().GetCompletions() != 1 || created.GetSpec().GetBackoffLimit() != 6 {
		t.Fatalf("created = %v", created)
	}
	if _, err := jobs.Create(ctx, shJob("", "hello", "true")); !client.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	if dry, err := jobs.Create(ctx, shJob("", "dry", "true"), client.DryRun()); err != nil || dry.GetMetadata().GetUid() == "" {
		t.Errorf("dry run: %v %v", dry, err)
	}
	if _, err := jobs.Get(ctx, "dry"); !client.IsNotFound(err) {
		t.Errorf("dry-run job stored: %v", err)
	}

	// The watch sees the creation first.
	ev, err := jw.Recv()
	if err != nil || ev.Type != client.Added || ev.Object.GetMetadata().GetName() != "hello" {
		t.Fatalf("first watch event = %v %v", ev, err)
	}

	// WaitForJobCondition: Complete, with progress reported (J1).
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var progress int
	done, err := c.WaitForJobCondition(wctx, "default", "hello", client.JobComplete, func(*v1.Job) { progress++ })
	if err != nil {
		t.Fatal(err)
	}
	if done.GetStatus().GetSucceeded() != 1 || progress == 0 {
		t.Errorf("complete job status = %v, progress calls %d", done.GetStatus(), progress)
	}

	// Pods: list by the job-name label (J1), get, logs.
	pods, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "job-name=hello"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of hello = %v, %v", pods, err)
	}
	pod := pods.Items[0]
	if got, err := c.Pods("default").Get(ctx, pod.GetMetadata().GetName()); err != nil || got.GetStatus().GetPhase() != "Succeeded" {
		t.Errorf("pod get = %v, %v", got, err)
	}
	// Pods: watch from the list's revision, delete one, see it go.
	pw, err := c.Pods("default").Watch(ctx, client.ListOptions{LabelSelector: "job-name=hello", ResourceVersion: pods.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	var logs bytes.Buffer
	if err := c.PodLogs(ctx, "default", pod.GetMetadata().GetName(), client.LogOptions{}, &logs); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("hello from %s\nbye\n", pod.GetMetadata().GetName()); logs.String() != want {
		t.Errorf("logs = %q, want %q", logs.String(), want)
	}
	logs.Reset()
	if err := c.PodLogs(ctx, "default", pod.GetMetadata().GetName(), client.LogOptions{TailLines: 1}, &logs); err != nil || logs.String() != "bye\n" {
		t.Errorf("tail 1 = %q, %v", logs.String(), err)
	}
	if err := c.PodLogs(ctx, "default", "nope", client.LogOptions{}, &logs); !client.IsNotFound(err) {
		t.Errorf("logs of a missing pod: %v", err)
	}

	// Events: the job controller and scheduler record some.
	evs, err := c.Events("default").List(ctx, client.ListOptions{})
	if err != nil || len(evs.Items) == 0 {
		t.Errorf("events = %v, %v", evs, err)
	}
	ew, err := c.Events("").Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := ew.Recv(); err != nil || ev.Type != client.Added {
		t.Errorf("event watch: %v %v", ev, err)
	}
	ew.Close()

	// Update: a fresh resourceVersion applies, a stale one conflicts.
	cur, err := jobs.Get(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	upd := proto.Clone(cur).(*v1.Job)
	upd.Metadata.Labels = map[string]string{"team": "a"}
	after, err := jobs.Update(ctx, upd)
	if err != nil || after.GetMetadata().GetLabels()["team"] != "a" {
		t.Fatalf("update = %v, %v", after, err)
	}
	upd.Metadata.Labels = map[string]string{"team": "b"}
	_, err = jobs.Update(ctx, upd) // still cur's resourceVersion
	if !client.IsConflict(err) || status.Code(err) != codes.Aborted {
		t.Errorf("stale update: %v, want a conflict (Aborted)", err)
	}
	// Invalid update: the template is immutable, named in the field errors.
	upd = proto.Clone(after).(*v1.Job)
	upd.Spec.Template.Spec.Containers[0].Image = "other"
	_, err = jobs.Update(ctx, upd)
	if fe := client.FieldErrors(err); !client.IsInvalid(err) || len(fe) != 1 || fe[0].Field != "spec.template" {
		t.Errorf("immutable template: %v (%v)", err, fe)
	}
	if _, err := jobs.Update(ctx, shJob("default", "nope", "true")); !client.IsNotFound(err) {
		t.Errorf("update of a missing job: %v", err)
	}

	// Not found and invalid.
	if _, err := jobs.Get(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("get missing: %v", err)
	}
	if _, err := jobs.Delete(ctx, "nope", client.DeleteOptions{}); !client.IsNotFound(err) {
		t.Errorf("delete missing: %v", err)
	}
	bad := shJob("", "Bad_Name", "true")
	bad.Spec.Template.Spec.RestartPolicy = "Always"
	_, err = jobs.Create(ctx, bad)
	fe := client.FieldErrors(err)
	if !client.IsInvalid(err) || len(fe) != 2 || fe[0].Field != "metadata.name" || fe[1].Field != "spec.template.spec.restartPolicy" {
		t.Errorf("invalid create: %v (%v)", err, fe)
	}
	// On the wire: InvalidArgument with a google.rpc.BadRequest detail.
	st, _ := status.FromError(err)
	var violations []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				violations = append(violations, v.GetField())
			}
		}
	}
	if st.Code() != codes.InvalidArgument || fmt.Sprint(violations) != "[metadata.name spec.template.spec.restartPolicy]" {
		t.Errorf("status %v, BadRequest field violations %v", st.Code(), violations)
	}
	if _, err := jobs.List(ctx, client.ListOptions{LabelSelector: "a in"}); !client.IsInvalid(err) {
		t.Errorf("bad selector: %v", err)
	}

	// Nodes: get, list, cordon through Update (guarded), watch.
	nodes, err := c.Nodes().List(ctx, client.ListOptions{})
	if err != nil || len(nodes.Items) != 1 || nodes.Items[0].GetMetadata().GetName() != "w1" {
		t.Fatalf("nodes = %v, %v", nodes, err)
	}
	n, err := c.Nodes().Get(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	nw, err := c.Nodes().Watch(ctx, client.ListOptions{ResourceVersion: n.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	n.Spec = &v1.NodeSpec{Unschedulable: true}
	cordoned, err := c.Nodes().Update(ctx, n)
	if err != nil || !cordoned.GetSpec().GetUnschedulable() {
		t.Fatalf("cordon = %v, %v", cordoned, err)
	}
	for {
		ev, err := nw.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Object.GetSpec().GetUnschedulable() {
			break
		}
	}
	if _, err := c.Nodes().Update(ctx, n); !client.IsConflict(err) {
		t.Errorf("stale node update: %v", err)
	}
	if _, err := c.Nodes().Get(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("missing node: %v", err)
	}

	// Delete: the Job goes (its pod after it, J12), the watch reports it.
	if _, err := jobs.Delete(ctx, "hello", client.DeleteOptions{ResourceVersion: "1"}); !client.IsConflict(err) {
		t.Errorf("delete with a stale resourceVersion: %v", err)
	}
	gone, err := jobs.Delete(ctx, "hello", client.DeleteOptions{})
	if err != nil || gone.GetMetadata().GetName() != "hello" {
		t.Fatalf("delete = %v, %v", gone, err)
	}
	for {
		ev, err := jw.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == client.Deleted {
			break
		}
	}
	if _, err := c.Pods("default").Delete(ctx, pod.GetMetadata().GetName(), client.DeleteOptions{}); err != nil && !client.IsNotFound(err) {
		t.Errorf("delete pod: %v", err) // NotFound: the Job's deletion removed it first
	}
	for {
		ev, err := pw.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == client.Deleted && ev.Object.GetMetadata().GetName() == pod.GetMetadata().GetName() {
			break
		}
	}
	if _, err := c.Pods("default").Delete(ctx, "nope", client.DeleteOptions{}); !client.IsNotFound(err) {
		t.Errorf("delete missing pod: %v", err)
	}
	if _, err := c.Nodes().Delete(ctx, "w-nope", client.DeleteOptions{}); !client.IsNotFound(err) {
		t.Errorf("delete missing node: %v", err)
	}
}

// TestIntegrationPaging reads a list in pages over one snapshot: an object
// created between pages is not in it (continue tokens carry the revision).
func TestIntegrationPaging(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	r := startReplica(t, cli, "127.0.0.1:0", "r1")
	c := dial(t, r.addr)
	ctx := ctxT(t)
	jobs := c.Jobs("paging")
	for i := range 5 {
		j := suspendedJob("", fmt.Sprintf("j%d", i))
		j.Metadata.Labels = map[string]string{"even": strconv.FormatBool(i%2 == 0)}
		if _, err := jobs.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	// With a selector, each page is filled with matching objects.
	var evens []string
	opts := client.ListOptions{LabelSelector: "even=true", Limit: 2}
	for page := 1; ; page++ {
		p, err := jobs.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Items {
			evens = append(evens, j.GetMetadata().GetName())
		}
		evens = append(evens, "|")
		if p.Continue == "" || page > 5 {
			break
		}
		opts.Continue = p.Continue
	}
	if fmt.Sprint(evens) != "[j0 j2 | j4 |]" {
		t.Errorf("pages with a selector: %v, want [j0 j2 | j4 |]", evens)
	}
	p1, err := jobs.List(ctx, client.ListOptions{Limit: 2})
	if err != nil || len(p1.Items) != 2 || p1.Continue == "" {
		t.Fatalf("page 1 = %v, %v", p1, err)
	}
	if _, err := jobs.Create(ctx, suspendedJob("", "j9-late")); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range p1.Items {
		names = append(names, j.GetMetadata().GetName())
	}
	cont := p1.Continue
	for cont != "" {
		p, err := jobs.List(ctx, client.ListOptions{Limit: 2, Continue: cont})
		if err != nil {
			t.Fatal(err)
		}
		if p.ResourceVersion != p1.ResourceVersion {
			t.Errorf("page at revision %s, first at %s", p.ResourceVersion, p1.ResourceVersion)
		}
		for _, j := range p.Items {
			names = append(names, j.GetMetadata().GetName())
		}
		cont = p.Continue
	}
	if fmt.Sprint(names) != "[j0 j1 j2 j3 j4]" {
		t.Errorf("paged names = %v", names)
	}
	all, err := jobs.List(ctx, client.ListOptions{})
	if err != nil || len(all.Items) != 6 {
		t.Errorf("full list = %d items, %v", len(all.Items), err)
	}
	if _, err := jobs.List(ctx, client.ListOptions{Limit: 2, Continue: "garbage!"}); !client.IsInvalid(err) {
		t.Errorf("bad continue token: %v", err)
	}
	// A token whose snapshot was compacted is Gone, as in Kubernetes.
	resp, err := cli.Put(ctx, "/unrelated", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.List(ctx, client.ListOptions{Limit: 2, Continue: p1.Continue}); !client.IsGone(err) {
		t.Errorf("continue after compaction: %v, want ErrGone", err)
	}
}

// TestIntegrationWatchGone: a watch from a compacted revision fails with
// ErrGone (OutOfRange), and so does a paged list whose snapshot is gone.
func TestIntegrationWatchGone(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	r := startReplica(t, cli, "127.0.0.1:0", "r1")
	c := dial(t, r.addr)
	ctx := ctxT(t)
	jobs := c.Jobs("gone")
	first, err := jobs.Create(ctx, suspendedJob("", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Create(ctx, suspendedJob("", "b")); err != nil {
		t.Fatal(err)
	}
	last, err := jobs.Create(ctx, suspendedJob("", "c"))
	if err != nil {
		t.Fatal(err)
	}
	var rev int64
	fmt.Sscan(last.GetMetadata().GetResourceVersion(), &rev)
	if _, err := cli.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	w, err := jobs.Watch(ctx, client.ListOptions{ResourceVersion: first.GetMetadata().GetResourceVersion()})
	if err == nil {
		defer w.Close()
		_, err = w.Recv()
	}
	if !client.IsGone(err) || status.Code(err) != codes.OutOfRange {
		t.Errorf("watch from a compacted revision: %v, want ErrGone (OutOfRange)", err)
	}
	if want := "resourceVersion " + first.GetMetadata().GetResourceVersion() + " is too old (compacted): list again and watch from the list's resourceVersion"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	// A Watcher cut off while the history it needs is compacted cannot
	// resume: Recv reports ErrGone rather than skipping changes.
	addr := r.addr
	w2, err := jobs.Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	for range 3 { // the initial list: a, b, c
		if _, err := w2.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	r.stop()
	st := store.New(cli)
	if _, err := st.Jobs().Mutate(ctx, "gone", "a", func(j *v1.Job) error {
		j.Metadata.Labels = map[string]string{"x": "1"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Put(ctx, "/unrelated", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	startReplica(t, cli, addr, "r2")
	var gone error
	for gone == nil {
		_, gone = w2.Recv()
	}
	if !client.IsGone(gone) {
		t.Errorf("resumed watch over compacted history: %v, want ErrGone", gone)
	}
}

// etcdHistory is what etcd itself recorded for the Jobs of ns in (from, to]:
// the ground truth a watch must reproduce.
func etcdHistory(t *testing.T, cli *clientv3.Client, ns string, from, to int64) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), 10*time.Second)
	defer cancel()
	var out []string
	for resp := range cli.Watch(ctx, store.New(cli).Jobs().Prefix(ns), clientv3.WithPrefix(), clientv3.WithRev(from+1)) {
		if err := resp.Err(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range resp.Events {
			if ev.Kv.ModRevision > to {
				return out
			}
			typ := "MODIFIED"
			switch {
			case ev.Type == clientv3.EventTypeDelete:
				typ = "DELETED"
			case ev.IsCreate():
				typ = "ADDED"
			}
			out = append(out, fmt.Sprintf("%s %s@%d", typ, filepath.Base(string(ev.Kv.Key)), ev.Kv.ModRevision))
			if ev.Kv.ModRevision == to {
				return out
			}
		}
	}
	t.Fatal("etcd history watch ended")
	return nil
}

// collect reads w in the background; events arrive on the channel as
// "TYPE name@rev", an error ends it.
func collect(w *client.Watcher[*v1.Job]) <-chan string {
	ch := make(chan string, 1000)
	go func() {
		defer close(ch)
		for {
			ev, err := w.Recv()
			if err != nil {
				ch <- "error: " + err.Error()
				return
			}
			md := ev.Object.GetMetadata()
			ch <- fmt.Sprintf("%s %s@%s", ev.Type, md.GetName(), md.GetResourceVersion())
		}
	}()
	return ch
}

// until reads ch up to and including the event for name, failing after
// 20 s.
func until(t *testing.T, ch <-chan string, name string) []string {
	t.Helper()
	var got []string
	timeout := time.After(20 * time.Second)
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				t.Fatalf("watch ended; got %v", got)
			}
			got = append(got, s)
			if bytes.HasPrefix([]byte(s), []byte("error:")) {
				t.Fatalf("watch failed: %v", got)
			}
			var typ, n string
			fmt.Sscanf(s, "%s %s", &typ, &n)
			if len(n) > len(name) && n[:len(name)+1] == name+"@" {
				return got
			}
		case <-timeout:
			t.Fatalf("no event for %s; got %v", name, got)
		}
	}
}

// TestIntegrationWatchSurvivesRestart stops the only controller replica
// while a Watcher reads Jobs, changes Jobs in etcd meanwhile, and starts a
// new replica on the same address: the Watcher goes on by itself and
// reports exactly what etcd recorded, nothing missed or twice (SPEC I1,
// L2).
func TestIntegrationWatchSurvivesRestart(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	r := startReplica(t, cli, "127.0.0.1:0", "r1")
	addr := r.addr
	c := dial(t, addr)
	ctx := ctxT(t)
	const ns = "restart"
	jobs := c.Jobs(ns)
	if _, err := jobs.Create(ctx, suspendedJob("", "before")); err != nil {
		t.Fatal(err)
	}
	w, err := jobs.Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var from int64
	fmt.Sscan(w.ResourceVersion(), &from)
	ch := collect(w)
	if _, err := jobs.Create(ctx, suspendedJob("", "a")); err != nil {
		t.Fatal(err)
	}
	got := until(t, ch, "a")

	r.stop()
	// While no replica serves, change Jobs straight in etcd: one update,
	// one delete, and two creates in one transaction (one revision).
	st := store.New(cli)
	if _, err := st.Jobs().Mutate(ctx, ns, "a", func(j *v1.Job) error {
		j.Metadata.Labels = map[string]string{"changed": "yes"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Jobs().Delete(ctx, ns, "before", 0); err != nil {
		t.Fatal(err)
	}
	tx := st.Txn()
	for _, name := range []string{"offline-1", "offline-2"} {
		j := suspendedJob(ns, name)
		j.Metadata.Uid = "uid-" + name
		tx.Create(j)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	startReplica(t, cli, addr, "r2")
	last, err := jobs.Create(ctx, suspendedJob("", "after"))
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, until(t, ch, "after")...)
	var to int64
	fmt.Sscan(last.GetMetadata().GetResourceVersion(), &to)

	// The first events are the initial list (the Job "before") as ADDED.
	if len(got) == 0 || got[0][:len("ADDED before@")] != "ADDED before@" {
		t.Fatalf("first event %v, want ADDED before", got)
	}
	want := etcdHistory(t, cli, ns, from, to)
	if fmt.Sprint(got[1:]) != fmt.Sprint(want) {
		t.Errorf("watch across a restart:\n got  %v\n want %v", got[1:], want)
	}
}

// TestIntegrationFailover dials two replicas; when the one in use stops,
// calls and an open watch carry on with the other.
func TestIntegrationFailover(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	a := startReplica(t, cli, "127.0.0.1:0", "a")
	b := startReplica(t, cli, "127.0.0.1:0", "b")
	c := dial(t, a.addr+","+b.addr)
	ctx := ctxT(t)
	l, err := c.Leader(ctx)
	if err != nil || l.ServingIdentity != "a" {
		t.Fatalf("leader = %+v, %v; want served by a (first address)", l, err)
	}
	jobs := c.Jobs("failover")
	w, err := jobs.Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ch := collect(w)
	if _, err := jobs.Create(ctx, suspendedJob("", "one")); err != nil {
		t.Fatal(err)
	}
	until(t, ch, "one")

	a.stop()
	l, err = c.Leader(ctx)
	if err != nil || l.ServingIdentity != "b" {
		t.Fatalf("after a stopped: leader = %+v, %v; want served by b", l, err)
	}
	if _, err := jobs.Get(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Create(ctx, suspendedJob("", "two")); err != nil {
		t.Fatal(err)
	}
	got := until(t, ch, "two")
	var twos []string
	for _, s := range got {
		if strings.Contains(s, " two@") {
			twos = append(twos, s)
		}
	}
	if len(twos) != 1 || !strings.HasPrefix(twos[0], "ADDED two@") {
		t.Errorf("events after failover = %v, want one ADDED two", got)
	}
}

// TestIntegrationCronJobsAndDaemonSets: the same verbs for CronJobs and
// DaemonSets (SPEC C1, D1, O4).
func TestIntegrationCronJobsAndDaemonSets(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	r := startReplica(t, cli, "127.0.0.1:0", "r1")
	c := dial(t, r.addr)
	ctx := ctxT(t)

	cjs := c.CronJobs("default")
	w, err := cjs.Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	suspend := true
	cj := &v1.CronJob{Metadata: &v1.ObjectMeta{Name: "backup"}, Spec: &v1.CronJobSpec{Schedule: "*/5 * * * *", Suspend: &suspend,
		JobTemplate: &v1.JobTemplateSpec{Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
			RestartPolicy: "OnFailure", Containers: []*v1.Container{{Name: "c", Image: "busybox", Command: []string{"date"}}}}}}}}}
	created, err := cjs.Create(ctx, cj)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Recv(); err != nil || ev.Type != client.Added || ev.Object.GetMetadata().GetName() != "backup" {
		t.Errorf("cronjob watch: %v %v", ev, err)
	}
	if _, err := cjs.Create(ctx, cj); !client.IsAlreadyExists(err) {
		t.Errorf("second create: %v", err)
	}
	bad := proto.Clone(cj).(*v1.CronJob)
	bad.Metadata.Name, bad.Spec.Schedule = "bad", "61 * * * *"
	if _, err := cjs.Create(ctx, bad); !client.IsInvalid(err) || len(client.FieldErrors(err)) == 0 || client.FieldErrors(err)[0].Field != "spec.schedule" {
		t.Errorf("bad schedule: %v", err)
	}
	got, err := cjs.Get(ctx, "backup")
	if err != nil {
		t.Fatal(err)
	}
	got.Spec.Schedule = "0 * * * *"
	if _, err := cjs.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	created.Spec.Schedule = "1 * * * *"
	if _, err := cjs.Update(ctx, created); !client.IsConflict(err) {
		t.Errorf("stale cronjob update: %v", err)
	}
	if l, err := cjs.List(ctx, client.ListOptions{}); err != nil || len(l.Items) != 1 || l.Items[0].GetSpec().GetSchedule() != "0 * * * *" {
		t.Errorf("cronjob list: %v %v", l, err)
	}
	if _, err := cjs.Delete(ctx, "backup", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cjs.Get(ctx, "backup"); !client.IsNotFound(err) {
		t.Errorf("deleted cronjob: %v", err)
	}

	dss := c.DaemonSets("default")
	ds := &v1.DaemonSet{Metadata: &v1.ObjectMeta{Name: "agent"}, Spec: &v1.DaemonSetSpec{
		Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
		Template: &v1.PodTemplateSpec{Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
			Spec: &v1.PodSpec{Containers: []*v1.Container{{Name: "agent", Image: "busybox", Command: []string{"sleep", "3600"}}}}}}}
	if _, err := dss.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if l, err := dss.List(ctx, client.ListOptions{LabelSelector: ""}); err != nil || len(l.Items) != 1 {
		t.Errorf("daemonset list: %v %v", l, err)
	}
	if _, err := dss.Get(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("missing daemonset: %v", err)
	}
	if _, err := dss.Delete(ctx, "agent", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}
