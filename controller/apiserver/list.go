package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/store"
)

// continueToken is the opaque list continuation: the last key returned and
// the revision the first page was read at, so every page reads one snapshot.
type continueToken struct {
	Key string `json:"k"`
	Rev int64  `json:"r"`
}

func selectorOf(opts *v1.ListOptions) (labels.Selector, error) {
	sel, err := labels.Parse(opts.GetLabelSelector())
	if err != nil {
		return nil, invalid("options.labelSelector", err.Error())
	}
	return sel, nil
}

// listPage reads one page of a kind, filtered by the label selector.
func listPage[T store.Object](ctx context.Context, k store.Kind[T], ns string, opts *v1.ListOptions) ([]T, *v1.ListMeta, error) {
	sel, err := selectorOf(opts)
	if err != nil {
		return nil, nil, err
	}
	var tok continueToken
	if c := opts.GetContinueToken(); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Key == "" {
			return nil, nil, invalid("options.continueToken", "malformed continue token")
		}
	}
	items, rev, next, err := k.ListPage(ctx, ns, opts.GetLimit(), tok.Key, tok.Rev)
	if errors.Is(err, store.ErrCompacted) {
		return nil, nil, invalid("options.continueToken", "the list snapshot has expired (compacted); start the list again")
	}
	if err != nil {
		return nil, nil, toStatus(err)
	}
	if tok.Rev > 0 {
		// etcd reports its current revision; the page was read at the
		// first page's, and so is every later page.
		rev = tok.Rev
	}
	out := items[:0]
	for _, it := range items {
		if sel.Matches(it.GetMetadata().GetLabels()) {
			out = append(out, it)
		}
	}
	meta := &v1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}
	if next != "" {
		b, _ := json.Marshal(continueToken{Key: next, Rev: rev})
		meta.ContinueToken = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, meta, nil
}

// watchKind streams a kind's changes to send. Without a resourceVersion it
// first sends every current object as ADDED, then changes after that
// snapshot; with one, changes after it (exclusive). A compacted
// resourceVersion is OutOfRange.
func watchKind[T store.Object](ctx context.Context, k store.Kind[T], ns string, opts *v1.ListOptions, send func(typ string, obj T) error) error {
	sel, err := selectorOf(opts)
	if err != nil {
		return err
	}
	var from int64
	if rv := opts.GetResourceVersion(); rv != "" {
		if from, err = strconv.ParseInt(rv, 10, 64); err != nil || from < 0 {
			return invalid("options.resourceVersion", "must be a revision number")
		}
	} else {
		items, rev, err := k.List(ctx, ns)
		if err != nil {
			return toStatus(err)
		}
		for _, it := range items {
			if sel.Matches(it.GetMetadata().GetLabels()) {
				if err := send(string(store.Added), it); err != nil {
					return err
				}
			}
		}
		from = rev
	}
	ch, werr := k.Watch(ctx, ns, from)
	for ev := range ch {
		if !sel.Matches(ev.Object.GetMetadata().GetLabels()) {
			continue
		}
		if err := send(string(ev.Type), ev.Object); err != nil {
			return err
		}
	}
	if err := werr(); err != nil {
		if errors.Is(err, store.ErrCompacted) {
			return toStatus(errors.Join(err, errors.New("resourceVersion "+opts.GetResourceVersion()+" is too old; list again and watch from the list's resourceVersion")))
		}
		return toStatus(err)
	}
	return toStatus(ctx.Err())
}
