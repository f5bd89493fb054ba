package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/store"
)

// DefaultWatchBuffer is how many changes a watch stream holds for a client
// that has not read them before the stream is ended (WithWatchBuffer).
const DefaultWatchBuffer = 256

// MinWatchBuffer is the smallest watch buffer: one store transaction
// changes up to store.MaxTxnOps objects at one revision, and a stream must
// hold them all for a client that resumes to make progress.
const MinWatchBuffer = store.MaxTxnOps

// watchListPage is how many objects the initial list of a watch without a
// resourceVersion reads (and holds) at a time.
const watchListPage = 100

// ReasonWatchTooFarBehind is the google.rpc.ErrorInfo reason (domain
// ErrorDomain) of the ResourceExhausted error that ends a watch stream whose
// client fell too far behind (SPEC B1). The client should watch again from
// the resourceVersion of the last change it received (the SDK does), or list
// again if that revision has been compacted.
const ReasonWatchTooFarBehind = "WATCH_TOO_FAR_BEHIND"

// ErrorDomain is the google.rpc.ErrorInfo domain of Drover's errors.
const ErrorDomain = "drover.dev"

// Option configures a Server.
type Option func(*Server)

// WithWatchBuffer sets how many changes a watch stream holds for a client
// that is not reading them (default DefaultWatchBuffer, at least
// MinWatchBuffer; smaller values are raised to it). A client that falls
// further behind has its stream ended with ResourceExhausted, reason
// ReasonWatchTooFarBehind, so that a watcher that does not read costs the
// server at most this many objects (SPEC B1).
func WithWatchBuffer(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.watchBuffer = max(n, MinWatchBuffer)
		}
	}
}

// tooFarBehind is the error that ends a watch stream whose client did not
// keep up.
func tooFarBehind(buffer int) error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf(
		"watch ended: the client fell more than %d changes behind; watch again from the resourceVersion of the last change received, or list again", buffer))
	st, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonWatchTooFarBehind, Domain: ErrorDomain,
		Metadata: map[string]string{"watchBuffer": strconv.Itoa(buffer)}})
	if err != nil {
		return status.Error(codes.ResourceExhausted, err.Error())
	}
	return st.Err()
}

// watchKind streams a kind's changes on srv, each as the message msg makes.
// Without a resourceVersion it first sends every current object as ADDED,
// read in pages of watchListPage at one revision, then changes after that
// snapshot; with one, changes after it (exclusive). A compacted
// resourceVersion is OutOfRange.
//
// The changes read from the store wait, already encoded for the wire (a
// few hundred bytes each, not the decoded object), in a buffer of
// s.watchBuffer for the sender, which blocks while the client does not
// read (gRPC flow control). When the buffer is full the store watch is
// stopped at once, so that nothing piles up behind it; the changes
// buffered are still sent, and the stream ends with ResourceExhausted
// (ReasonWatchTooFarBehind) when the client reads again. So a client that
// does not read holds at most one list page, or the buffer, on the server
// (SPEC B1); gRPC's flow control bounds what is queued below SendMsg.
func watchKind[T store.Object](s *Server, srv grpc.ServerStream, k store.Kind[T], ns string, opts *v1.ListOptions, msg func(typ string, obj T) proto.Message) error {
	ctx := srv.Context()
	sel, err := selectorOf(opts)
	if err != nil {
		return err
	}
	var from int64
	if rv := opts.GetResourceVersion(); rv != "" {
		if from, err = strconv.ParseInt(rv, 10, 64); err != nil || from < 0 {
			return invalid("options.resourceVersion", "must be a revision number")
		}
	} else if from, err = sendList(ctx, k, ns, sel, func(obj T) error { return srv.SendMsg(msg(string(store.Added), obj)) }); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, werr := k.Watch(wctx, ns, from)
	buf := make(chan *grpc.PreparedMsg, s.watchBuffer)
	var rerr error // the reader's: set before buf is closed
	behind := false
	go func() {
		defer close(buf)
		defer func() {
			for range ch { // drop what the store read ahead; it stops now
			}
		}()
		for ev := range ch {
			if !sel.Matches(ev.Object.GetMetadata().GetLabels()) {
				continue
			}
			pm := new(grpc.PreparedMsg)
			if rerr = pm.Encode(srv, msg(string(ev.Type), ev.Object)); rerr != nil {
				cancel()
				return
			}
			select {
			case buf <- pm:
			default:
				behind = true
				cancel() // stop reading the store: nothing more is held
				s.watchesBehind.Add(1)
				s.lg.Info("watch ending: client too far behind", zap.String("prefix", k.Prefix(ns)), zap.Int("buffer", s.watchBuffer))
				return
			}
		}
	}()
	for pm := range buf {
		if err := srv.SendMsg(pm); err != nil {
			cancel()
			for range buf { // until the reader has stopped
			}
			_ = werr()
			return err
		}
	}
	err = werr()
	switch {
	case behind:
		return tooFarBehind(s.watchBuffer)
	case rerr != nil:
		return toStatus(rerr)
	case errors.Is(err, store.ErrCompacted):
		return status.Errorf(codes.OutOfRange, "resourceVersion %d is too old (compacted): list again and watch from the list's resourceVersion", from)
	case err != nil:
		return toStatus(err)
	}
	return toStatus(ctx.Err())
}

// sendList sends the objects of a kind matching sel, reading them a page at
// a time at one revision, which it returns: a client that does not read
// holds one page on the server, not the whole list.
func sendList[T store.Object](ctx context.Context, k store.Kind[T], ns string, sel labels.Selector, send func(obj T) error) (int64, error) {
	key, rev := "", int64(0)
	for {
		items, r, more, err := k.ListPage(ctx, ns, watchListPage, key, rev)
		if errors.Is(err, store.ErrCompacted) {
			return 0, status.Error(codes.OutOfRange, "the initial list's revision was compacted while it was being sent: watch again")
		}
		if err != nil {
			return 0, toStatus(err)
		}
		if rev == 0 {
			rev = r
		}
		for _, it := range items {
			if sel.Matches(it.GetMetadata().GetLabels()) {
				if err := send(it); err != nil {
					return 0, err
				}
			}
		}
		if more == "" {
			return rev, nil
		}
		key = more
	}
}
