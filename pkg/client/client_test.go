package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/client/clienttest"
)

var unavailable = status.Error(codes.Unavailable, "no leader")

func newClient(t *testing.T, addr string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.New(ctx, addr, client.WithRetry(4, time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func piJob(name string) *v1.Job {
	return &v1.Job{
		Metadata: &v1.ObjectMeta{Name: name, Labels: map[string]string{"app": "pi"}},
		Spec: &v1.JobSpec{
			Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
				RestartPolicy: "Never",
				Containers:    []*v1.Container{{Name: "pi", Image: "perl:5.34.0"}},
			}},
		},
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := client.New(context.Background(), " , "); err == nil {
		t.Error("empty address list: want an error")
	}
	// A port nobody listens on: New fails fast, as Unavailable.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	start := time.Now()
	_, err = client.New(context.Background(), addr, client.WithDialTimeout(3*time.Second))
	if !client.IsUnavailable(err) {
		t.Errorf("New(%s) = %v, want Unavailable", addr, err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("New took %v to fail", time.Since(start))
	}
	// Lazy: no dial timeout, so New succeeds and the call fails.
	c, err := client.New(context.Background(), addr, client.WithDialTimeout(0), client.WithRetry(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Jobs("default").Get(context.Background(), "x"); !client.IsUnavailable(err) {
		t.Errorf("Get = %v, want Unavailable", err)
	}
}

func TestJobsCRUD(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	jobs := c.Jobs("default")

	created, err := jobs.Create(ctx, piJob("pi"))
	if err != nil {
		t.Fatal(err)
	}
	if created.GetMetadata().GetUid() == "" || created.GetMetadata().GetNamespace() != "default" || created.GetSpec().GetBackoffLimit() != 6 {
		t.Errorf("created = %v", created)
	}
	if _, err := jobs.Create(ctx, piJob("pi")); !client.IsAlreadyExists(err) || !errors.Is(err, client.ErrAlreadyExists) {
		t.Errorf("second Create = %v, want AlreadyExists", err)
	}
	if _, err := jobs.Create(ctx, piJob("dry"), client.DryRun()); err != nil || s.Job("default", "dry") != nil {
		t.Errorf("dry run: %v, stored %v", err, s.Job("default", "dry"))
	}
	if _, err := c.Jobs("other").Create(ctx, &v1.Job{Metadata: &v1.ObjectMeta{Name: "x", Namespace: "default"}}); err == nil {
		t.Error("namespace mismatch: want an error")
	}

	got, err := jobs.Get(ctx, "pi")
	if err != nil || !proto.Equal(got, created) {
		t.Errorf("Get = %v, %v", got, err)
	}
	if _, err := jobs.Get(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("Get(nope) = %v, want NotFound", err)
	}
	if _, err := jobs.Get(ctx, ""); err == nil {
		t.Error("Get(\"\"): want an error")
	}

	// Update with the current resourceVersion works; with an old one it conflicts.
	upd := proto.Clone(got).(*v1.Job)
	upd.Spec.Parallelism = proto.Int32(3)
	updated, err := jobs.Update(ctx, upd)
	if err != nil || updated.GetSpec().GetParallelism() != 3 {
		t.Fatalf("Update = %v, %v", updated, err)
	}
	if _, err := jobs.Update(ctx, upd); !client.IsConflict(err) {
		t.Errorf("stale Update = %v, want Conflict", err)
	}

	deleted, err := jobs.Delete(ctx, "pi", client.DeleteOptions{PropagationPolicy: client.DeleteOrphan})
	if err != nil || deleted.GetMetadata().GetName() != "pi" {
		t.Errorf("Delete = %v, %v", deleted, err)
	}
	if _, err := jobs.Delete(ctx, "pi", client.DeleteOptions{}); !client.IsNotFound(err) {
		t.Errorf("second Delete = %v, want NotFound", err)
	}
}

func TestInvalidFieldErrors(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	j := piJob("pi")
	j.Spec.Completions = proto.Int32(-1)
	j.Spec.Template.Spec.RestartPolicy = "Always"
	_, err := c.Jobs("default").Create(ctxT(t), j)
	if !client.IsInvalid(err) {
		t.Fatalf("Create = %v, want Invalid", err)
	}
	fe := client.FieldErrors(err)
	if len(fe) != 2 || fe[0].Field != "spec.completions" || fe[0].Detail != "must be >= 0" || fe[1].Field != "spec.template.spec.restartPolicy" {
		t.Errorf("FieldErrors = %v", fe)
	}
	want := `spec.completions: must be >= 0; spec.template.spec.restartPolicy: unsupported value "Always": must be Never or OnFailure`
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant %q", err, want)
	}
	if st, ok := status.FromError(err); !ok || st.Code() != codes.InvalidArgument {
		t.Errorf("status = %v", st)
	}
}

func TestRetryOnUnavailable(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	s.PutJob(piJob("pi"))

	s.FailNext("GetJob", unavailable, unavailable)
	if _, err := c.Jobs("").Get(ctx, "pi"); err != nil {
		t.Errorf("Get after 2 Unavailable = %v", err)
	}
	if n := s.Calls("GetJob"); n != 3 {
		t.Errorf("GetJob calls = %d, want 3", n)
	}
	// Retries are bounded.
	s.FailNext("ListJobs", unavailable, unavailable, unavailable, unavailable, unavailable)
	if _, err := c.Jobs("").List(ctx, client.ListOptions{}); !client.IsUnavailable(err) {
		t.Errorf("List = %v, want Unavailable", err)
	}
	if n := s.Calls("ListJobs"); n != 4 {
		t.Errorf("ListJobs calls = %d, want 4", n)
	}
	// Create is never retried.
	s.FailNext("CreateJob", unavailable)
	if _, err := c.Jobs("").Create(ctx, piJob("x")); !client.IsUnavailable(err) {
		t.Errorf("Create = %v, want Unavailable", err)
	}
	if n := s.Calls("CreateJob"); n != 1 {
		t.Errorf("CreateJob calls = %d, want 1", n)
	}
	// Other codes are not retried.
	s.FailNext("DeletePod", status.Error(codes.PermissionDenied, "no"))
	if _, err := c.Pods("").Delete(ctx, "p", client.DeleteOptions{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("DeletePod = %v", err)
	}
	if n := s.Calls("DeletePod"); n != 1 {
		t.Errorf("DeletePod calls = %d, want 1", n)
	}
}

func TestFailover(t *testing.T) {
	a := clienttest.NewServer(t)
	b := clienttest.NewServer(t)
	a.SetLeader("a")
	b.SetLeader("b")
	c := newClient(t, a.Addr+","+b.Addr)
	ctx := ctxT(t)
	l, err := c.Leader(ctx)
	if err != nil || l.Identity != "a" || l.Revision != 7 {
		t.Fatalf("Leader = %+v, %v", l, err)
	}
	a.Stop()
	var got string
	for i := 0; i < 50 && got != "b"; i++ {
		if l, err := c.Leader(ctx); err == nil {
			got = l.Identity
		}
	}
	if got != "b" {
		t.Errorf("after the first server stopped, leader = %q, want b", got)
	}
}

func TestListPagingAndSelector(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	for i := range 5 {
		p := &v1.Pod{Metadata: &v1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default", Labels: map[string]string{"job-name": "pi"}}}
		if i == 4 {
			p.Metadata.Labels["job-name"] = "other"
		}
		s.PutPod(p)
	}
	s.PutPod(&v1.Pod{Metadata: &v1.ObjectMeta{Name: "q", Namespace: "batch"}})

	all, err := c.Pods("").List(ctx, client.ListOptions{Limit: 0})
	if err != nil || len(all.Items) != 6 || all.Continue != "" || all.ResourceVersion != "6" {
		t.Errorf("all namespaces = %d items, %+v, %v", len(all.Items), all, err)
	}
	page, err := c.Pods("default").List(ctx, client.ListOptions{Limit: 2, LabelSelector: "job-name=pi"})
	if err != nil || len(page.Items) != 2 || page.Continue == "" {
		t.Fatalf("page 1 = %v, %v", page, err)
	}
	page2, err := c.Pods("default").List(ctx, client.ListOptions{Limit: 2, LabelSelector: "job-name=pi", Continue: page.Continue})
	if err != nil || len(page2.Items) != 2 || page2.Items[0].GetMetadata().GetName() != "p2" {
		t.Fatalf("page 2 = %v, %v", page2, err)
	}
	if _, err := c.Pods("").List(ctx, client.ListOptions{LabelSelector: "a in ("}); !client.IsInvalid(err) {
		t.Errorf("bad selector = %v, want Invalid", err)
	}
}

func TestNodesAndEvents(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	s.PutNode(&v1.Node{Metadata: &v1.ObjectMeta{Name: "n1"}})
	n, err := c.Nodes().Get(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n.Spec = &v1.NodeSpec{Unschedulable: true}
	if n, err = c.Nodes().Update(ctx, n); err != nil || !n.GetSpec().GetUnschedulable() {
		t.Errorf("Update = %v, %v", n, err)
	}
	if l, err := c.Nodes().List(ctx, client.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Errorf("List = %v, %v", l, err)
	}
	if _, err := c.Nodes().Delete(ctx, "n1", client.DeleteOptions{}); err != nil {
		t.Error(err)
	}
	s.PutEvent(&v1.Event{Metadata: &v1.ObjectMeta{Name: "e1", Namespace: "default"}, Reason: "SuccessfulCreate"})
	if l, err := c.Events("default").List(ctx, client.ListOptions{}); err != nil || len(l.Items) != 1 || l.Items[0].GetReason() != "SuccessfulCreate" {
		t.Errorf("Events = %v, %v", l, err)
	}
}

func TestWatch(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	s.PutJob(piJob("a"))
	s.FailNext("WatchJobs", unavailable) // opening is retried
	w, err := c.Jobs("").Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev, err := w.Recv()
	if err != nil || ev.Type != client.Added || ev.Object.GetMetadata().GetName() != "a" {
		t.Fatalf("first event = %v, %v", ev, err)
	}
	s.ModifyJob("", "a", func(j *v1.Job) { j.Status = &v1.JobStatus{Active: 1} })
	ev, err = w.Recv()
	if err != nil || ev.Type != client.Modified || ev.Object.GetStatus().GetActive() != 1 {
		t.Fatalf("second event = %v, %v", ev, err)
	}
	rv := ev.Object.GetMetadata().GetResourceVersion()
	s.DeleteJobNow("", "a")
	if ev, err = w.Recv(); err != nil || ev.Type != client.Deleted {
		t.Fatalf("third event = %v, %v", ev, err)
	}
	w.Close()
	if _, err := w.Recv(); err == nil {
		t.Error("Recv after Close: want an error")
	}

	// From a resource version: only later changes.
	w2, err := c.Jobs("").Watch(ctx, client.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if ev, err := w2.Recv(); err != nil || ev.Type != client.Deleted {
		t.Errorf("watch from %s: %v, %v", rv, ev, err)
	}

	// Pods, nodes and events watch the same way.
	s.PutPod(&v1.Pod{Metadata: &v1.ObjectMeta{Name: "p", Namespace: "default"}})
	s.PutNode(&v1.Node{Metadata: &v1.ObjectMeta{Name: "n"}})
	s.PutEvent(&v1.Event{Metadata: &v1.ObjectMeta{Name: "e", Namespace: "default"}})
	pw, err := c.Pods("default").Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if ev, err := pw.Recv(); err != nil || ev.Object.GetMetadata().GetName() != "p" {
		t.Errorf("pod watch: %v %v", ev, err)
	}
	nw, err := c.Nodes().Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	if ev, err := nw.Recv(); err != nil || ev.Object.GetMetadata().GetName() != "n" {
		t.Errorf("node watch: %v %v", ev, err)
	}
	ew, err := c.Events("").Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ew.Close()
	if ev, err := ew.Recv(); err != nil || ev.Object.GetMetadata().GetName() != "e" {
		t.Errorf("event watch: %v %v", ev, err)
	}
}

func TestPodLogs(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	s.PutPod(&v1.Pod{Metadata: &v1.ObjectMeta{Name: "pi-0", Namespace: "default"}})
	s.SetLogs("default", "pi-0", "", "line 1\nline 2\nline 3\n")
	s.SetLogs("default", "pi-0", "side", "side car\n")

	var buf bytes.Buffer
	s.FailNext("PodLogs", unavailable)
	if err := c.PodLogs(ctx, "", "pi-0", client.LogOptions{}, &buf); err != nil || buf.String() != "line 1\nline 2\nline 3\n" {
		t.Errorf("logs = %q, %v", buf.String(), err)
	}
	buf.Reset()
	if err := c.PodLogs(ctx, "default", "pi-0", client.LogOptions{TailLines: 2}, &buf); err != nil || buf.String() != "line 2\nline 3\n" {
		t.Errorf("tail = %q, %v", buf.String(), err)
	}
	buf.Reset()
	if err := c.PodLogs(ctx, "default", "pi-0", client.LogOptions{Container: "side"}, &buf); err != nil || buf.String() != "side car\n" {
		t.Errorf("container = %q, %v", buf.String(), err)
	}
	if err := c.PodLogs(ctx, "default", "nope", client.LogOptions{}, &buf); !client.IsNotFound(err) {
		t.Errorf("missing pod = %v", err)
	}
	// Follow streams until ctx ends.
	fctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	buf.Reset()
	err := c.PodLogs(fctx, "default", "pi-0", client.LogOptions{Follow: true}, &buf)
	if !errors.Is(err, context.DeadlineExceeded) || buf.String() != "line 1\nline 2\nline 3\n" {
		t.Errorf("follow = %q, %v", buf.String(), err)
	}
}

func setCond(typ, reason string) func(*v1.Job) {
	return func(j *v1.Job) {
		j.Status = &v1.JobStatus{Succeeded: 1, Conditions: []*v1.JobCondition{{Type: typ, Status: "True", Reason: reason}}}
	}
}

func TestWaitForJobCondition(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	s.PutJob(&v1.Job{Metadata: &v1.ObjectMeta{Name: "pi", Namespace: "default"}})
	s.PutJob(&v1.Job{Metadata: &v1.ObjectMeta{Name: "other", Namespace: "default"}})

	t.Run("complete", func(t *testing.T) {
		var seen int
		done := make(chan struct{})
		var job *v1.Job
		var err error
		go func() {
			defer close(done)
			job, err = c.WaitForJobCondition(ctx, "default", "pi", client.JobComplete, func(*v1.Job) { seen++ })
		}()
		waitCalls(t, s, "WatchJobs", 1)
		s.ModifyJob("default", "other", setCond("Complete", ""))
		s.ModifyJob("default", "pi", func(j *v1.Job) { j.Status = &v1.JobStatus{Active: 1} })
		s.ModifyJob("default", "pi", setCond("Complete", ""))
		<-done
		if err != nil || !client.HasJobCondition(job, "Complete") || seen != 3 {
			t.Errorf("job %v, err %v, progress calls %d", job, err, seen)
		}
		// Already met: returns at once.
		if _, err := c.WaitForJobCondition(ctx, "default", "pi", client.JobComplete, nil); err != nil {
			t.Error(err)
		}
	})
	t.Run("opposite terminal condition", func(t *testing.T) {
		s.ModifyJob("default", "other", setCond("Failed", "BackoffLimitExceeded"))
		_, err := c.WaitForJobCondition(ctx, "default", "other", client.JobComplete, nil)
		if !errors.Is(err, client.ErrConditionUnreachable) || err.Error() != `job "other" is Failed: BackoffLimitExceeded` {
			t.Errorf("err = %v", err)
		}
		_, err = c.WaitForJobCondition(ctx, "default", "pi", client.JobFailed, nil)
		if !errors.Is(err, client.ErrConditionUnreachable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s.PutJob(&v1.Job{Metadata: &v1.ObjectMeta{Name: "slow", Namespace: "default"}, Status: &v1.JobStatus{Active: 2, Succeeded: 1}})
		tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := c.WaitForJobCondition(tctx, "default", "slow", client.JobComplete, nil)
		if !errors.Is(err, context.DeadlineExceeded) || err.Error() != `waiting for condition Complete on job "slow" (succeeded 1, active 2, failed 0): context deadline exceeded` {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a watch the server cancels is opened again", func(t *testing.T) {
		// As when the server's copy of a caller's deadline fires a moment
		// before the caller's own: not the caller's timeout, so look again.
		s.PutJob(&v1.Job{Metadata: &v1.ObjectMeta{Name: "cancelled", Namespace: "default"}})
		before := s.Calls("WatchJobs")
		s.FailNext("WatchJobs", status.Error(codes.Canceled, "stream terminated by RST_STREAM with error code: CANCEL"))
		done := make(chan error, 1)
		go func() {
			_, err := c.WaitForJobCondition(ctx, "default", "cancelled", client.JobComplete, nil)
			done <- err
		}()
		for deadline := time.Now().Add(10 * time.Second); s.Calls("WatchJobs") < before+2 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		s.ModifyJob("default", "cancelled", setCond("Complete", ""))
		if err := <-done; err != nil {
			t.Errorf("err = %v, want the Job Complete after a second watch", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := c.WaitForJobCondition(ctx, "default", "nope", client.JobComplete, nil); !client.IsNotFound(err) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		s.PutJob(&v1.Job{Metadata: &v1.ObjectMeta{Name: "gone", Namespace: "default"}})
		errc := make(chan error, 1)
		before := s.Calls("WatchJobs")
		go func() {
			_, err := c.WaitForJobCondition(ctx, "default", "gone", client.JobComplete, nil)
			errc <- err
		}()
		waitCalls(t, s, "WatchJobs", before+1)
		s.DeleteJobNow("default", "gone")
		if err := <-errc; !errors.Is(err, client.ErrConditionUnreachable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("watch rejected then recovered", func(t *testing.T) {
		s.PutJob(&v1.Job{Metadata: &v1.ObjectMeta{Name: "w", Namespace: "default"}})
		s.FailNext("WatchJobs", status.Error(codes.OutOfRange, "compacted"))
		errc := make(chan error, 1)
		before := s.Calls("WatchJobs")
		go func() {
			_, err := c.WaitForJobCondition(ctx, "default", "w", client.JobComplete, nil)
			errc <- err
		}()
		waitCalls(t, s, "WatchJobs", before+2)
		s.ModifyJob("default", "w", setCond("Complete", ""))
		if err := <-errc; err != nil {
			t.Errorf("err = %v", err)
		}
	})
}

// waitCalls waits until the server has seen n calls of method.
func waitCalls(t *testing.T, s *clienttest.Server, method string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Calls(method) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d calls, want %d", method, s.Calls(method), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCronJobsAndDaemonSetsFake: the CronJob and DaemonSet clients against
// the fake (the real server is in TestIntegrationCronJobsAndDaemonSets).
func TestCronJobsAndDaemonSetsFake(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	cjs := c.CronJobs("default")
	w, err := cjs.Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cj := &v1.CronJob{Metadata: &v1.ObjectMeta{Name: "backup"}, Spec: &v1.CronJobSpec{Schedule: "@hourly",
		JobTemplate: &v1.JobTemplateSpec{Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
			RestartPolicy: "OnFailure", Containers: []*v1.Container{{Name: "c", Image: "busybox"}}}}}}}}
	created, err := cjs.Create(ctx, cj)
	if err != nil || created.GetMetadata().GetUid() == "" || created.GetMetadata().GetNamespace() != "default" {
		t.Fatalf("create = %v, %v", created, err)
	}
	if _, err := cjs.Create(ctx, cj); !client.IsAlreadyExists(err) {
		t.Errorf("second create: %v", err)
	}
	if _, err := c.CronJobs("other").Create(ctx, created); err == nil {
		t.Error("create in a namespace other than the client's: want an error")
	}
	if ev, err := w.Recv(); err != nil || ev.Type != client.Added {
		t.Errorf("watch: %v %v", ev, err)
	}
	upd := proto.Clone(created).(*v1.CronJob)
	upd.Spec.Schedule = "@daily"
	if _, err := cjs.Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if _, err := cjs.Update(ctx, upd); !client.IsConflict(err) {
		t.Errorf("stale update: %v", err)
	}
	if ev, err := w.Recv(); err != nil || ev.Type != client.Modified || ev.Object.GetSpec().GetSchedule() != "@daily" {
		t.Errorf("watch: %v %v", ev, err)
	}
	if l, err := cjs.List(ctx, client.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Errorf("list: %v %v", l, err)
	}
	if _, err := cjs.Delete(ctx, "backup", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cjs.Get(ctx, "backup"); !client.IsNotFound(err) {
		t.Errorf("get deleted: %v", err)
	}

	dss := c.DaemonSets("")
	ds := &v1.DaemonSet{Metadata: &v1.ObjectMeta{Name: "agent", Namespace: "ops"}, Spec: &v1.DaemonSetSpec{
		Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
		Template: &v1.PodTemplateSpec{Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
			Spec: &v1.PodSpec{Containers: []*v1.Container{{Name: "agent", Image: "busybox"}}}}}}
	if _, err := dss.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	bad := proto.Clone(ds).(*v1.DaemonSet)
	bad.Metadata.Name = "Bad"
	if _, err := dss.Create(ctx, bad); !client.IsInvalid(err) {
		t.Errorf("invalid daemonset: %v", err)
	}
	if got, err := c.DaemonSets("ops").Get(ctx, "agent"); err != nil || got.GetMetadata().GetName() != "agent" {
		t.Errorf("get: %v %v", got, err)
	}
	if _, err := c.DaemonSets("ops").Delete(ctx, "agent", client.DeleteOptions{}); err != nil {
		t.Error(err)
	}
}

// TestRetryOnConflict: an update that conflicts is run again (read, change,
// write), a bounded number of times; other outcomes end it at once.
func TestRetryOnConflict(t *testing.T) {
	s := clienttest.NewServer(t)
	c := newClient(t, s.Addr)
	ctx := ctxT(t)
	jobs := c.Jobs("default")
	if _, err := jobs.Create(ctx, piJob("pi")); err != nil {
		t.Fatal(err)
	}
	conflict := status.Error(codes.Aborted, "the object has changed")
	update := func(calls *int) func() error {
		return func() error {
			*calls++
			j, err := jobs.Get(ctx, "pi")
			if err != nil {
				return err
			}
			j.Metadata.Labels = map[string]string{"try": fmt.Sprint(*calls)}
			_, err = jobs.Update(ctx, j)
			return err
		}
	}
	calls := 0
	s.FailNext("UpdateJob", conflict, conflict)
	if err := client.RetryOnConflict(ctx, update(&calls)); err != nil || calls != 3 {
		t.Errorf("two conflicts: %v after %d calls, want success after 3", err, calls)
	}
	if got := s.Job("default", "pi").GetMetadata().GetLabels()["try"]; got != "3" {
		t.Errorf("stored label try=%s, want 3", got)
	}
	calls = 0
	s.FailNext("UpdateJob", conflict, conflict, conflict, conflict, conflict)
	if err := client.RetryOnConflict(ctx, update(&calls)); !client.IsConflict(err) || calls != 5 {
		t.Errorf("endless conflicts: %v after %d calls, want a conflict after 5", err, calls)
	}
	calls = 0
	s.FailNext("UpdateJob", status.Error(codes.InvalidArgument, "bad"))
	if err := client.RetryOnConflict(ctx, update(&calls)); !client.IsInvalid(err) || calls != 1 {
		t.Errorf("invalid: %v after %d calls", err, calls)
	}
}
