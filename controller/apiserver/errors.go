package apiserver

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/validation"
)

// codeTable maps store errors to gRPC codes; the SDK maps them back.
var codeTable = []struct {
	err  error
	code codes.Code
}{
	{store.ErrNotFound, codes.NotFound},
	{store.ErrAlreadyExists, codes.AlreadyExists},
	{store.ErrConflict, codes.Aborted},
	{store.ErrInvalidRevision, codes.InvalidArgument},
	{store.ErrCompacted, codes.OutOfRange},
	{store.ErrNotLeader, codes.Unavailable},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
	{rpctypes.ErrNoLeader, codes.Unavailable},
	{rpctypes.ErrTimeout, codes.Unavailable},
}

// toStatus turns an error into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if l, ok := validation.AsErrorList(err); ok {
		return l.GRPCStatus().Err()
	}
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	// etcd's own errors are gRPC statuses and kept above; anything else is a bug.
	return status.Error(codes.Internal, err.Error())
}

func notFound(kind, ns, name string) error {
	if ns == "" {
		return status.Errorf(codes.NotFound, "%s %q not found", kind, name)
	}
	return status.Errorf(codes.NotFound, "%s %q not found in namespace %q", kind, name, ns)
}

func invalid(field, detail string) error {
	return validation.ErrorList{{Field: field, Detail: detail}}.GRPCStatus().Err()
}

// conflict is the error for a stale resourceVersion.
func conflict(kind, name string) error {
	return status.Error(codes.Aborted, fmt.Sprintf("%s %q was modified: the object has changed since it was read; read it again and retry", kind, name))
}
