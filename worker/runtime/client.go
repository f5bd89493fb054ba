package runtime

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
)

// Dial connects to the RuntimeService on the unix socket socketPath. It does
// not block: calls wait for the server. Close the returned Closer when done.
func Dial(ctx context.Context, socketPath string) (runtimev1.RuntimeServiceClient, io.Closer, error) {
	abs, err := filepath.Abs(socketPath)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: dial: %w", err)
	}
	conn, err := grpc.NewClient("unix://"+abs,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: dial %s: %w", socketPath, err)
	}
	return runtimev1.NewRuntimeServiceClient(conn), conn, nil
}

// client is a Backend over a RuntimeService client.
type client struct {
	c runtimev1.RuntimeServiceClient
}

// NewClient returns a Backend that calls c, mapping gRPC codes back to this
// package's errors (so errors.Is(err, ErrNotFound) works across the wire).
func NewClient(c runtimev1.RuntimeServiceClient) Backend { return client{c: c} }

var _ Backend = client{}

func (c client) Run(ctx context.Context, cfg *runtimev1.ContainerConfig) (*runtimev1.ContainerInfo, error) {
	resp, err := c.c.RunContainer(ctx, &runtimev1.RunContainerRequest{Config: cfg})
	return resp.GetInfo(), fromStatus(err)
}

func (c client) Stop(ctx context.Context, id string, grace time.Duration) (*runtimev1.ContainerInfo, error) {
	resp, err := c.c.StopContainer(ctx, &runtimev1.StopContainerRequest{Id: id, GracePeriodMillis: grace.Milliseconds()})
	return resp.GetInfo(), fromStatus(err)
}

func (c client) Status(ctx context.Context, id string) (*runtimev1.ContainerInfo, error) {
	resp, err := c.c.ContainerStatus(ctx, &runtimev1.ContainerStatusRequest{Id: id})
	return resp.GetInfo(), fromStatus(err)
}

func (c client) List(ctx context.Context, selector map[string]string) ([]*runtimev1.ContainerInfo, error) {
	resp, err := c.c.ListContainers(ctx, &runtimev1.ListContainersRequest{LabelSelector: selector})
	return resp.GetContainers(), fromStatus(err)
}

func (c client) Remove(ctx context.Context, id string) error {
	_, err := c.c.RemoveContainer(ctx, &runtimev1.RemoveContainerRequest{Id: id})
	return fromStatus(err)
}

func (c client) Wait(ctx context.Context, id string) (*runtimev1.ContainerInfo, error) {
	resp, err := c.c.WaitContainer(ctx, &runtimev1.WaitContainerRequest{Id: id})
	return resp.GetInfo(), fromStatus(err)
}

func (c client) Fence(ctx context.Context, killAfter time.Duration) error {
	_, err := c.c.Fence(ctx, &runtimev1.FenceRequest{KillAfterMillis: killAfter.Milliseconds()})
	return fromStatus(err)
}

// Logs opens the stream and waits for its first message (empty, sent at once
// by the server), so that a missing container is reported here rather than by
// the first Read.
func (c client) Logs(ctx context.Context, id string, follow bool, tail int64) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.c.ContainerLogs(ctx, &runtimev1.ContainerLogsRequest{Id: id, Follow: follow, TailLines: tail})
	if err != nil {
		cancel()
		return nil, fromStatus(err)
	}
	r := &logStream{stream: stream, cancel: cancel}
	first, err := stream.Recv()
	switch {
	case err == io.EOF:
		r.eof = true
	case err != nil:
		cancel()
		return nil, fromStatus(err)
	default:
		r.buf = first.GetData()
	}
	return r, nil
}

// logStream reads a ContainerLogs stream as an io.ReadCloser.
type logStream struct {
	stream grpc.ServerStreamingClient[runtimev1.ContainerLogsResponse]
	cancel context.CancelFunc
	buf    []byte
	eof    bool
}

func (r *logStream) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		msg, err := r.stream.Recv()
		if err == io.EOF {
			r.eof = true
			continue
		}
		if err != nil {
			return 0, fromStatus(err)
		}
		r.buf = msg.GetData()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *logStream) Close() error { r.cancel(); return nil }
