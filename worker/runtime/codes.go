package runtime

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorCodes is the one table between Backend errors and gRPC codes.
var errorCodes = []struct {
	err  error
	code codes.Code
}{
	{ErrNotFound, codes.NotFound},
	{ErrAlreadyExists, codes.AlreadyExists},
	{ErrRunning, codes.FailedPrecondition},
	{ErrInvalid, codes.InvalidArgument},
}

// toStatus turns a Backend error into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, ec := range errorCodes {
		if errors.Is(err, ec.err) {
			return status.Error(ec.code, err.Error())
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// fromStatus turns a gRPC status error back into a Backend error that
// errors.Is recognises, keeping the server's message.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, ec := range errorCodes {
		if st.Code() == ec.code {
			return &statusError{sentinel: ec.err, msg: st.Message()}
		}
	}
	switch st.Code() {
	case codes.Canceled:
		return &statusError{sentinel: context.Canceled, msg: st.Message()}
	case codes.DeadlineExceeded:
		return &statusError{sentinel: context.DeadlineExceeded, msg: st.Message()}
	}
	return err
}

// statusError is an error received from the server: its message, and the
// sentinel its code stands for.
type statusError struct {
	sentinel error
	msg      string
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.sentinel }
