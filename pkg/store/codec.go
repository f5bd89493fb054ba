package store

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Object is a stored object: a proto message with ObjectMeta.
type Object interface {
	proto.Message
	GetMetadata() *v1.ObjectMeta
}

var (
	marshalOpts   = protojson.MarshalOptions{}
	unmarshalOpts = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// encode renders obj as stored: protojson without resourceVersion, which is
// the key's mod revision and so is never stored inside the value.
func encode(obj Object) ([]byte, error) {
	md := obj.GetMetadata()
	if md == nil {
		return nil, fmt.Errorf("store: object has no metadata")
	}
	rv := md.ResourceVersion
	md.ResourceVersion = ""
	b, err := marshalOpts.Marshal(obj)
	md.ResourceVersion = rv
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	return b, nil
}

// decode parses a stored value into obj and sets its resourceVersion.
func decode(b []byte, modRev int64, obj Object) error {
	if err := unmarshalOpts.Unmarshal(b, obj); err != nil {
		return fmt.Errorf("store: decode: %w", err)
	}
	md := obj.GetMetadata()
	if md == nil {
		return fmt.Errorf("store: decoded object has no metadata")
	}
	md.ResourceVersion = strconv.FormatInt(modRev, 10)
	return nil
}

// Revision parses an object's resourceVersion; 0 when unset.
func Revision(obj Object) (int64, error) {
	rv := obj.GetMetadata().GetResourceVersion()
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: resourceVersion %q: %w", rv, ErrInvalidRevision)
	}
	return n, nil
}
