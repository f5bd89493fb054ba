package client_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/utils/clock"

	"github.com/drover-dev/drover/controller/apiserver"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/store"
)

// SPEC B1, issue 13 #6: when the server ends a watch because the caller
// fell further behind than its buffer (ResourceExhausted, reason
// WATCH_TOO_FAR_BEHIND), the SDK's Watcher opens it again from the last
// change it returned: the caller still sees every change, once, in order,
// and no error.
func TestWatcherResumesAfterFallingBehind(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	core, logs := observer.New(zap.InfoLevel)
	api := apiserver.New(st, "test", clock.RealClock{}, zap.New(core), apiserver.WithWatchBuffer(apiserver.MinWatchBuffer))
	var mu sync.Mutex
	var opened int
	var ends []error
	g := grpc.NewServer(grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		mu.Lock()
		opened++
		mu.Unlock()
		err := h(srv, ss)
		mu.Lock()
		ends = append(ends, err)
		mu.Unlock()
		return err
	}))
	api.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-done })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// gRPC's fixed 64 KiB windows, so that what the caller does not read
	// backs up to the server soon.
	c, err := client.New(ctx, lis.Addr().String(), client.WithGRPCOptions(grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := c.Jobs("default").Watch(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	// 600 Jobs created, then each changed, 100 per transaction, while the
	// caller reads nothing.
	const n = 600
	jobs := make([]*v1.Job, n)
	note := strings.Repeat("x", 2000) // 1,200 changes of 2 KB: far more than gRPC's windows
	for i := range jobs {
		jobs[i] = &v1.Job{Metadata: &v1.ObjectMeta{Name: fmt.Sprintf("job-%04d", i), Namespace: "default", Uid: fmt.Sprint("uid-", i), Annotations: map[string]string{"note": note}},
			Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{RestartPolicy: "Never",
				Containers: []*v1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "echo hello"}}}}}}}
	}
	for _, update := range []bool{false, true} {
		for i := 0; i < n; i += 100 {
			tx := st.Txn()
			for _, j := range jobs[i : i+100] {
				if update {
					j.Metadata.Annotations["changed"] = "yes"
					tx.Update(j)
				} else {
					tx.Create(j)
				}
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Wait until the server gave up on the stream.
	for logs.FilterMessage("watch ending: client too far behind").Len() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the server never found the watcher behind")
		case <-time.After(10 * time.Millisecond):
		}
	}

	seen := map[string]int{}
	for i := range 2 * n {
		ev, err := w.Recv()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		typ := client.Added
		if i >= n {
			typ = client.Modified
		}
		if want := jobs[i%n].Metadata.Name; ev.Type != typ || ev.Object.GetMetadata().GetName() != want {
			t.Fatalf("event %d: %s %s, want %s %s", i, ev.Type, ev.Object.GetMetadata().GetName(), typ, want)
		}
		seen[string(ev.Type)+" "+ev.Object.GetMetadata().GetName()]++
	}
	if len(seen) != 2*n {
		t.Errorf("%d distinct events, want %d", len(seen), 2*n)
	}
	mu.Lock()
	defer mu.Unlock()
	if opened < 2 || len(ends) == 0 || status.Code(ends[0]) != codes.ResourceExhausted {
		t.Errorf("%d streams opened, ended with %v: want the first ended ResourceExhausted and another opened", opened, ends)
	}
}
