package client

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// fakeStreams serves scripted streams: each open gets the next script,
// whose events are "name@rev" (a trailing error ends the stream).
type fakeStreams struct {
	scripts [][]any
	froms   []string
}

func (f *fakeStreams) open(_ context.Context, o *v1.ListOptions) (recvFunc[*v1.Job], error) {
	f.froms = append(f.froms, o.GetResourceVersion())
	if len(f.scripts) == 0 {
		return nil, status.Error(codes.Unavailable, "no more streams")
	}
	script := f.scripts[0]
	f.scripts = f.scripts[1:]
	return func() (string, *v1.Job, error) {
		if len(script) == 0 {
			select {} // a stream that stays open and quiet
		}
		item := script[0]
		script = script[1:]
		switch x := item.(type) {
		case error:
			return "", nil, x
		case [2]string: // name, rev
			return "MODIFIED", &v1.Job{Metadata: &v1.ObjectMeta{Namespace: "default", Name: x[0], ResourceVersion: x[1]}}, nil
		}
		panic("bad script")
	}, nil
}

func ev(name string, rev int) [2]string { return [2]string{name, strconv.Itoa(rev)} }

// TestWatcherResumes: a broken stream is reopened from the last revision
// returned; when that revision held several changes (one transaction) the
// stream is reopened inclusively and the changes already returned are
// skipped, so nothing is missed or repeated. io.EOF resumes too; other
// errors (OutOfRange: compacted) end the watch.
func TestWatcherResumes(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "replica stopped")
	f := &fakeStreams{scripts: [][]any{
		{ev("a", 5), ev("b", 6), unavailable},                         // broke after b@6
		{ev("c", 7), ev("d", 7), io.EOF},                              // c and d at one revision; broke after both
		{ev("c", 7), ev("d", 7), ev("e", 8), ev("f", 8), unavailable}, // replayed from 7 inclusive; broke after f
		{ev("e", 8), ev("f", 8), ev("g", 9), status.Error(codes.OutOfRange, "compacted")},
	}}
	c := &Client{opts: options{maxAttempts: 3, retryBase: time.Millisecond, retryMax: time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := watch(ctx, c, ListOptions{ResourceVersion: "4"}, nil, f.open)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got []string
	for {
		e, err := w.Recv()
		if err != nil {
			if !IsGone(err) {
				t.Errorf("end = %v, want ErrGone", err)
			}
			break
		}
		got = append(got, e.Object.GetMetadata().GetName()+"@"+e.Object.GetMetadata().GetResourceVersion())
	}
	if fmt.Sprint(got) != "[a@5 b@6 c@7 d@7 e@8 f@8 g@9]" {
		t.Errorf("events = %v", got)
	}
	// Opened from 4 as asked, then always including the last revision
	// returned (another change of it may not have arrived): from 5 after
	// b@6, from 6 after d@7, from 7 after f@8.
	if fmt.Sprint(f.froms) != "[4 5 6 7]" {
		t.Errorf("reopened from %v", f.froms)
	}
	if w.ResourceVersion() != "9" {
		t.Errorf("ResourceVersion = %s", w.ResourceVersion())
	}
}
