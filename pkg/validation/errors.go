// Package validation checks Drover objects against SPEC O1, O4 and the J
// rules, and sets their defaults. The API server and the client SDK share it,
// so that the CLI reports the same field errors the server would.
package validation

import (
	"errors"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FieldError is one problem with one field. Field is the path from the
// object's root in JSON names ("spec.template.spec.containers[0].image");
// it is empty for a problem with the whole input. Detail says what is wrong
// ("must be >= 0"). Value is the offending value when there is one; it is
// informative only and is not carried over gRPC.
type FieldError struct {
	Field  string
	Detail string
	Value  any
}

// Error renders "field: detail", or the detail alone when Field is empty.
func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

// ErrorList gathers field errors. It is an error when non-empty; use Err to
// get a nil error from an empty list. Returned from a gRPC handler it
// becomes InvalidArgument with a google.rpc.BadRequest detail holding one
// field violation per FieldError (see GRPCStatus).
type ErrorList []FieldError

// Errors returns the individual field errors.
func (l ErrorList) Errors() []FieldError { return l }

// Error joins the errors with "; ".
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Err returns nil for an empty list and the list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// GRPCStatus converts the list into an InvalidArgument status whose message
// is Error() and whose details hold a google.rpc.BadRequest with one
// FieldViolation{Field, Description: Detail} per error, in order. grpc-go
// calls it when a handler returns the list as its error.
func (l ErrorList) GRPCStatus() *status.Status {
	st := status.New(codes.InvalidArgument, l.Error())
	br := &errdetails.BadRequest{}
	for _, e := range l {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       e.Field,
			Description: e.Detail,
		})
	}
	if withDetails, err := st.WithDetails(br); err == nil {
		return withDetails
	}
	return st
}

// FromStatus reads the field violations of an InvalidArgument status back
// into a list; it is nil when the status carries no google.rpc.BadRequest.
func FromStatus(st *status.Status) ErrorList {
	var l ErrorList
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			l = append(l, FieldError{Field: v.GetField(), Detail: v.GetDescription()})
		}
	}
	return l
}

// AsErrorList finds an ErrorList in err's chain.
func AsErrorList(err error) (ErrorList, bool) {
	var l ErrorList
	if errors.As(err, &l) {
		return l, true
	}
	return nil, false
}

// path builds field paths: path("spec").child("template").index(0).
type path string

func (p path) child(name string) path {
	if p == "" {
		return path(name)
	}
	return p + "." + path(name)
}

func (p path) index(i int) path { return p + path("["+strconv.Itoa(i)+"]") }

func (p path) key(k string) path { return p + path("["+k+"]") }

// errs accumulates FieldErrors while validating.
type errs struct{ list ErrorList }

func (e *errs) add(p path, detail string, value any) {
	e.list = append(e.list, FieldError{Field: string(p), Detail: detail, Value: value})
}
