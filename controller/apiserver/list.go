package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	// A page holds up to limit matching objects: with a selector, store
	// pages are read (all at the first page's revision) until it is full.
	limit, key, rev := opts.GetLimit(), tok.Key, tok.Rev
	var out []T
	next := ""
read:
	for {
		items, r, more, err := k.ListPage(ctx, ns, limit, key, rev)
		if errors.Is(err, store.ErrCompacted) {
			return nil, nil, status.Error(codes.OutOfRange, "the continue token's list snapshot is too old (compacted): start the list again")
		}
		if err != nil {
			return nil, nil, toStatus(err)
		}
		if rev == 0 {
			rev = r // etcd's revision when the first page was read
		}
		for i, it := range items {
			if !sel.Matches(it.GetMetadata().GetLabels()) {
				continue
			}
			out = append(out, it)
			if limit > 0 && int64(len(out)) == limit {
				if i < len(items)-1 || more != "" {
					md := it.GetMetadata()
					next = k.Key(md.GetNamespace(), md.GetName())
				}
				break read
			}
		}
		if more == "" {
			break
		}
		key = more
	}
	meta := &v1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}
	if next != "" {
		b, _ := json.Marshal(continueToken{Key: next, Rev: rev})
		meta.ContinueToken = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, meta, nil
}
