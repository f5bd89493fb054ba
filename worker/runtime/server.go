package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
)

// logChunk is the most output one ContainerLogs message carries.
const logChunk = 32 << 10

// maxSocketPath is the longest unix socket path Linux accepts (sun_path less its NUL).
const maxSocketPath = 107

type server struct {
	runtimev1.UnimplementedRuntimeServiceServer
	b Backend
}

// NewServer serves the RuntimeService over b, mapping b's errors to gRPC
// codes (NotFound, AlreadyExists, FailedPrecondition, InvalidArgument).
func NewServer(b Backend) runtimev1.RuntimeServiceServer { return &server{b: b} }

func (s *server) RunContainer(ctx context.Context, req *runtimev1.RunContainerRequest) (*runtimev1.RunContainerResponse, error) {
	info, err := s.b.Run(ctx, req.GetConfig())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.RunContainerResponse{Info: info}, nil
}

func (s *server) StopContainer(ctx context.Context, req *runtimev1.StopContainerRequest) (*runtimev1.StopContainerResponse, error) {
	info, err := s.b.Stop(ctx, req.GetId(), time.Duration(req.GetGracePeriodMillis())*time.Millisecond)
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.StopContainerResponse{Info: info}, nil
}

func (s *server) ContainerStatus(ctx context.Context, req *runtimev1.ContainerStatusRequest) (*runtimev1.ContainerStatusResponse, error) {
	info, err := s.b.Status(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.ContainerStatusResponse{Info: info}, nil
}

func (s *server) ListContainers(ctx context.Context, req *runtimev1.ListContainersRequest) (*runtimev1.ListContainersResponse, error) {
	infos, err := s.b.List(ctx, req.GetLabelSelector())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.ListContainersResponse{Containers: infos}, nil
}

func (s *server) RemoveContainer(ctx context.Context, req *runtimev1.RemoveContainerRequest) (*runtimev1.RemoveContainerResponse, error) {
	if err := s.b.Remove(ctx, req.GetId()); err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.RemoveContainerResponse{}, nil
}

func (s *server) WaitContainer(ctx context.Context, req *runtimev1.WaitContainerRequest) (*runtimev1.WaitContainerResponse, error) {
	info, err := s.b.Wait(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.WaitContainerResponse{Info: info}, nil
}

func (s *server) ContainerLogs(req *runtimev1.ContainerLogsRequest, stream runtimev1.RuntimeService_ContainerLogsServer) error {
	r, err := s.b.Logs(stream.Context(), req.GetId(), req.GetFollow(), req.GetTailLines())
	if err != nil {
		return toStatus(err)
	}
	defer r.Close()
	// An empty first message tells the client the container exists before
	// there is any output to send.
	if err := stream.Send(&runtimev1.ContainerLogsResponse{}); err != nil {
		return err
	}
	buf := make([]byte, logChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if serr := stream.Send(&runtimev1.ContainerLogsResponse{Data: append([]byte(nil), buf[:n]...)}); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return toStatus(err)
		}
	}
}

func (s *server) Fence(ctx context.Context, req *runtimev1.FenceRequest) (*runtimev1.FenceResponse, error) {
	if req.GetKillAfterMillis() <= 0 {
		return nil, toStatus(fmt.Errorf("fence: kill_after_millis must be positive: %w", ErrInvalid))
	}
	if err := s.b.Fence(ctx, time.Duration(req.GetKillAfterMillis())*time.Millisecond); err != nil {
		return nil, toStatus(err)
	}
	return &runtimev1.FenceResponse{}, nil
}

// Listen opens the unix socket socketPath, replacing a stale socket file left
// by a process that is gone. It fails if another process serves there.
func Listen(socketPath string) (net.Listener, error) {
	if len(socketPath) > maxSocketPath {
		return nil, fmt.Errorf("runtime: socket path %q is longer than %d bytes", socketPath, maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(socketPath), 0o755); err != nil {
		return nil, fmt.Errorf("runtime: socket dir: %w", err)
	}
	if _, err := os.Stat(socketPath); err == nil {
		if c, err := net.DialTimeout("unix", socketPath, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("runtime: %s is served by another process", socketPath)
		}
		if err := os.Remove(socketPath); err != nil {
			return nil, fmt.Errorf("runtime: remove stale socket: %w", err)
		}
	}
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("runtime: listen: %w", err)
	}
	return l, nil
}

// Serve serves the RuntimeService over b on the unix socket socketPath until
// ctx ends, then stops the server (cancelling open calls; containers keep
// running), removes the socket and returns nil. It returns an error if it
// cannot listen or the server fails.
func Serve(ctx context.Context, socketPath string, b Backend) error {
	l, err := Listen(socketPath)
	if err != nil {
		return err
	}
	return ServeListener(ctx, l, b)
}

// ServeListener is Serve on an open listener, which it closes.
func ServeListener(ctx context.Context, l net.Listener, b Backend) error {
	gs := grpc.NewServer()
	runtimev1.RegisterRuntimeServiceServer(gs, NewServer(b))
	served := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			gs.Stop()
		case <-served:
		}
	}()
	err := gs.Serve(l)
	close(served)
	<-done
	gs.Stop()
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) && ctx.Err() == nil {
		return fmt.Errorf("runtime: serve: %w", err)
	}
	return nil
}
