// Package runtime is the worker's container runtime boundary: the Backend
// interface that a runtime (process, docker, fake) implements, the gRPC
// RuntimeService server over a Backend, and a client that turns the gRPC
// service back into a Backend. The worker always talks to its runtime through
// gRPC, usually served in-process on a unix socket.
package runtime

import (
	"context"
	"errors"
	"io"
	"time"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
)

// Errors of a Backend; check them with errors.Is. The gRPC server maps them to
// status codes and the client maps the codes back (see codes.go).
var (
	ErrNotFound      = errors.New("runtime: container not found")
	ErrAlreadyExists = errors.New("runtime: container already exists")
	ErrRunning       = errors.New("runtime: container is running")
	ErrInvalid       = errors.New("runtime: invalid request")
)

// Backend runs containers. Every method is safe for concurrent use; ctx bounds
// the call only, never the container's life.
type Backend interface {
	// Run creates and starts a container with the caller's id and returns
	// once it runs, or has exited because it could not start (reason
	// StartError, exit code 127). ErrAlreadyExists if the id exists.
	Run(ctx context.Context, cfg *runtimev1.ContainerConfig) (*runtimev1.ContainerInfo, error)
	// Stop sends SIGTERM, then SIGKILL once grace has passed (at once when
	// grace <= 0), and returns when the container has exited. Stopping an
	// exited container returns its state.
	Stop(ctx context.Context, id string, grace time.Duration) (*runtimev1.ContainerInfo, error)
	// Status returns a container's state, ErrNotFound if there is none.
	Status(ctx context.Context, id string) (*runtimev1.ContainerInfo, error)
	// List returns the containers whose labels include every selector pair.
	List(ctx context.Context, selector map[string]string) ([]*runtimev1.ContainerInfo, error)
	// Remove deletes an exited container and its logs; ErrRunning if it runs.
	Remove(ctx context.Context, id string) error
	// Wait blocks until the container has exited (or ctx ends) and returns
	// its final state.
	Wait(ctx context.Context, id string) (*runtimev1.ContainerInfo, error)
	// Logs returns the container's output, the last tail lines when tail > 0.
	// With follow the reader blocks for more output until the container has
	// exited and its log is drained, then returns io.EOF. Closing the reader
	// or ending ctx stops it.
	Logs(ctx context.Context, id string, follow bool, tail int64) (io.ReadCloser, error)
	// Fence arms the dead-man switch: unless Fence is called again within
	// killAfter, every container is killed with SIGKILL (SPEC N4).
	Fence(ctx context.Context, killAfter time.Duration) error
}

// LabelsMatch reports whether labels hold every key of selector with its
// value: the filter of Backend.List.
func LabelsMatch(labels, selector map[string]string) bool {
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}
