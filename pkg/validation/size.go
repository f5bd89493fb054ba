package validation

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// MaxPodTemplateBytes bounds a pod template as stored (JSON), so that every
// pod made from it, with its Job, fits one etcd transaction (SPEC B1, O4):
// etcd refuses requests over 1.5 MiB, and the controller writes a Job with
// its pods, and a pod with its node assignment, in one transaction each.
// Kubernetes bounds an object by the same etcd limit; a pod this large is
// rare (256 KiB is also Kubernetes' bound on an object's annotations).
const MaxPodTemplateBytes = 256 << 10

// validateTemplateSize refuses a template over MaxPodTemplateBytes, naming
// the template and, as the likely cause, its largest single value.
func validateTemplateSize(e *errs, p path, tmpl *v1.PodTemplateSpec) {
	if tmpl == nil {
		return
	}
	n := jsonSize(tmpl)
	if n <= MaxPodTemplateBytes {
		return
	}
	detail := fmt.Sprintf("must have at most %d bytes as stored, has %d: a pod made from it must fit one etcd transaction with its Job", MaxPodTemplateBytes, n)
	if big, size := largestValue(tmpl.ProtoReflect(), p); big != "" {
		detail += fmt.Sprintf(" (the largest value is %s, %d bytes)", big, size)
	}
	e.add(p, detail, n)
}

func jsonSize(m *v1.PodTemplateSpec) int {
	b, err := protojson.Marshal(m)
	if err != nil {
		return 0
	}
	return len(b)
}

// largestValue finds the longest string or bytes value below m, with its
// path in JSON names.
func largestValue(m protoreflect.Message, p path) (path, int) {
	var best path
	bestSize := 0
	consider := func(fp path, v protoreflect.Value, fd protoreflect.FieldDescriptor) {
		switch fd.Kind() {
		case protoreflect.StringKind:
			if n := len(v.String()); n > bestSize {
				best, bestSize = fp, n
			}
		case protoreflect.BytesKind:
			if n := len(v.Bytes()); n > bestSize {
				best, bestSize = fp, n
			}
		case protoreflect.MessageKind, protoreflect.GroupKind:
			if b, n := largestValue(v.Message(), fp); n > bestSize {
				best, bestSize = b, n
			}
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fp := p.child(fd.JSONName())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				consider(fp.index(i), l.Get(i), fd)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				consider(fp.key(k.String()), mv, fd.MapValue())
				return true
			})
		default:
			consider(fp, v, fd)
		}
		return true
	})
	return best, bestSize
}
