package apiserver

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// logStream is a PodLogs server stream that only has a context.
type logStream struct {
	grpc.ServerStreamingServer[v1.PodLogsResponse]
	ctx context.Context
}

func (s logStream) Context() context.Context { return s.ctx }

// Issue 13 #10 (SPEC P3, N2): the log of a pod whose node no longer exists
// is NotFound with a message that says so, not a bare store error that the
// CLI would show as "pod not found".
func TestPodLogsNodeGone(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	p := &v1.Pod{
		Metadata: &v1.ObjectMeta{Name: "lost-1", Namespace: "default"},
		Spec:     &v1.PodSpec{NodeName: "worker-gone", Containers: []*v1.Container{{Name: "main", Image: "busybox"}}},
	}
	if _, err := s.st.Pods().Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	err := s.PodLogs(&v1.PodLogsRequest{Name: "lost-1"}, logStream{ctx: ctx})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "pod lost-1 ran on node worker-gone, which no longer exists") {
		t.Fatalf("PodLogs of a pod whose node is gone: %v", err)
	}
}
