package client

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/drover-dev/drover/pkg/validation"
)

// Errors the API returns, one per gRPC code; check them with errors.Is or
// the Is* functions.
var (
	ErrNotFound      = errors.New("client: not found")
	ErrAlreadyExists = errors.New("client: already exists")
	ErrInvalid       = errors.New("client: invalid")
	ErrConflict      = errors.New("client: conflict: the object changed")
	ErrUnavailable   = errors.New("client: unavailable")
	ErrGone          = errors.New("client: resource version too old")
)

// codeErrors is the one table from gRPC codes to this package's errors.
var codeErrors = map[codes.Code]error{
	codes.NotFound:         ErrNotFound,
	codes.AlreadyExists:    ErrAlreadyExists,
	codes.InvalidArgument:  ErrInvalid,
	codes.Aborted:          ErrConflict,
	codes.Unavailable:      ErrUnavailable,
	codes.OutOfRange:       ErrGone,
	codes.DeadlineExceeded: context.DeadlineExceeded,
	codes.Canceled:         context.Canceled,
}

// APIError is an error the server (or the connection to it) returned. It
// keeps the gRPC status: status.FromError and status.Code work on it.
type APIError struct {
	code  codes.Code
	msg   string
	st    *status.Status
	field validation.ErrorList
}

// wrap converts a gRPC error into an *APIError; other errors pass unchanged.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return &APIError{code: st.Code(), msg: st.Message(), st: st, field: validation.FromStatus(st)}
}

// Error is the server's message; for an invalid object, the field errors
// joined with "; " ("spec.completions: must be >= 0").
func (e *APIError) Error() string {
	if len(e.field) > 0 {
		return e.field.Error()
	}
	if e.msg != "" {
		return e.msg
	}
	return strings.ToLower(e.code.String())
}

// Code is the gRPC code.
func (e *APIError) Code() codes.Code { return e.code }

// GRPCStatus returns the status, details included.
func (e *APIError) GRPCStatus() *status.Status {
	if e.st != nil {
		return e.st
	}
	return status.New(e.code, e.msg)
}

// FieldErrors are the google.rpc.BadRequest field violations of an
// InvalidArgument error, in the server's order.
func (e *APIError) FieldErrors() validation.ErrorList { return e.field }

// Is matches the sentinel of the error's code (ErrNotFound for NotFound
// ...), and context.DeadlineExceeded or context.Canceled for those codes.
func (e *APIError) Is(target error) bool {
	s, ok := codeErrors[e.code]
	return ok && s != nil && s == target
}

// IsNotFound reports whether err is a NotFound from the API.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether a create found the name taken.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsInvalid reports whether the server rejected an object (InvalidArgument);
// FieldErrors says which fields.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsConflict reports whether an update or delete lost a race on
// metadata.resourceVersion (code Aborted): read the object again and retry.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsUnavailable reports whether the API could not be reached or had no
// leader or store to serve the call.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsGone reports whether a watch asked for a resource version, or a paged
// list continued from a snapshot, that the store has compacted (code
// OutOfRange): list again (and watch from the list's resource version).
func IsGone(err error) bool { return errors.Is(err, ErrGone) }

// FieldErrors returns the field errors carried by err: the field violations
// of an API error, or a validation.ErrorList found in err's chain (such as
// one from manifest.Parse or validation.ValidateJob). It is nil otherwise.
func FieldErrors(err error) validation.ErrorList {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.field
	}
	if l, ok := validation.AsErrorList(err); ok {
		return l
	}
	return nil
}

// reasonWatchTooFarBehind is the google.rpc.ErrorInfo reason of the
// ResourceExhausted error that ends a watch stream whose client fell too far
// behind (the server's --watch-buffer; see DroverService in
// proto/drover/v1/api.proto).
const reasonWatchTooFarBehind = "WATCH_TOO_FAR_BEHIND"

// isWatchBehind reports whether the server ended a watch because this
// client did not keep up: watching again from the last revision received
// loses nothing.
func isWatchBehind(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return false
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetReason() == reasonWatchTooFarBehind {
			return true
		}
	}
	return false
}
