package manifest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/drover-dev/drover/pkg/validation"
)

// quantityMaps are the map<string,string> fields whose values are resource
// quantities: a number there is read as its string form (cpu: 1).
var quantityMaps = map[protoreflect.FullName]bool{
	"drover.v1.ResourceRequirements.requests": true,
	"drover.v1.ResourceRequirements.limits":   true,
	"drover.v1.NodeStatus.capacity":           true,
	"drover.v1.NodeStatus.allocatable":        true,
}

// intOrStringFields are string fields that Kubernetes types as
// int-or-string: a whole number there is read as its string form
// (maxUnavailable: 1 becomes "1"; "25%" stays as written).
var intOrStringFields = map[protoreflect.FullName]bool{
	"drover.v1.RollingUpdateDaemonSet.max_unavailable": true,
	"drover.v1.RollingUpdateDaemonSet.max_surge":       true,
}

// walker checks a decoded JSON tree against a message descriptor, the way
// protojson will read it but stricter, and gathers every error with its
// path. It rewrites, in place, the values it normalises: quantities written
// as numbers become strings and integers get their canonical form.
type walker struct {
	errs validation.ErrorList
}

func (w *walker) add(path, detail string, value any) {
	w.errs = append(w.errs, validation.FieldError{Field: path, Detail: detail, Value: value})
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// message checks an object against md.
func (w *walker) message(path string, md protoreflect.MessageDescriptor, v any) {
	if md.FullName() == "google.protobuf.Timestamp" {
		s, ok := v.(string)
		if !ok {
			w.add(path, "expected an RFC 3339 timestamp string, got "+typeName(v), v)
			return
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			w.add(path, fmt.Sprintf("invalid timestamp %q: must be RFC 3339, such as 2024-01-02T15:04:05Z", s), s)
		}
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		w.add(path, "expected object, got "+typeName(v), v)
		return
	}
	fields := md.Fields()
	for _, key := range sortedKeys(obj) {
		fp := join(path, key)
		fd := fields.ByJSONName(key)
		if fd == nil {
			w.add(fp, "unknown field", nil)
			continue
		}
		val := obj[key]
		if val == nil {
			continue // null means unset, as protojson reads it
		}
		switch {
		case fd.IsMap():
			w.mapField(fp, fd, val)
		case fd.IsList():
			list, ok := val.([]any)
			if !ok {
				w.add(fp, "expected array, got "+typeName(val), val)
				continue
			}
			for i, elem := range list {
				ep := fmt.Sprintf("%s[%d]", fp, i)
				if elem == nil {
					w.add(ep, "expected "+kindName(fd)+", got null", nil)
					continue
				}
				list[i] = w.single(ep, fd, elem)
			}
		default:
			obj[key] = w.single(fp, fd, val)
		}
	}
}

func (w *walker) mapField(path string, fd protoreflect.FieldDescriptor, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		w.add(path, "expected object, got "+typeName(v), v)
		return
	}
	vd := fd.MapValue()
	quantities := quantityMaps[fd.FullName()]
	for _, k := range sortedKeys(m) {
		kp := path + "[" + k + "]"
		val := m[k]
		if n, isNum := val.(json.Number); isNum && quantities {
			m[k] = n.String()
			continue
		}
		if val == nil {
			w.add(kp, "expected "+kindName(vd)+", got null", nil)
			continue
		}
		m[k] = w.single(kp, vd, val)
	}
}

// single checks one non-null value of fd's kind and returns it, normalised.
func (w *walker) single(path string, fd protoreflect.FieldDescriptor, v any) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		w.message(path, fd.Message(), v)
	case protoreflect.StringKind:
		if n, isNum := v.(json.Number); isNum && intOrStringFields[fd.FullName()] {
			if i, whole := integer(n); whole {
				return i.String()
			}
			w.add(path, fmt.Sprintf("expected integer or percentage string, got number %s", n), n.String())
			return v
		}
		if _, ok := v.(string); !ok {
			w.add(path, "expected string, got "+typeName(v), v)
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			w.add(path, "expected boolean, got "+typeName(v), v)
		}
	case protoreflect.BytesKind:
		s, ok := v.(string)
		if !ok {
			w.add(path, "expected base64 string, got "+typeName(v), v)
		} else if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			w.add(path, "invalid base64", s)
		}
	case protoreflect.EnumKind:
		switch x := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(x)) == nil {
				w.add(path, fmt.Sprintf("unknown value %q", x), x)
			}
		default:
			w.add(path, "expected string, got "+typeName(v), v)
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if _, ok := v.(json.Number); !ok {
			w.add(path, "expected number, got "+typeName(v), v)
		}
	default: // integers
		n, ok := v.(json.Number)
		if !ok {
			w.add(path, "expected integer, got "+typeName(v), v)
			return v
		}
		lo, hi := intRange(fd.Kind())
		i, ok := integer(n)
		if !ok {
			w.add(path, fmt.Sprintf("expected integer, got number %s", n), n.String())
			return v
		}
		if i.Cmp(lo) < 0 || i.Cmp(hi) > 0 {
			w.add(path, fmt.Sprintf("%s is out of range [%s, %s]", n, lo, hi), n.String())
			return v
		}
		return json.Number(i.String())
	}
	return v
}

// integer reads n exactly ("4", "4.0", "1e3") and reports whether it is whole.
func integer(n json.Number) (*big.Int, bool) {
	s := n.String()
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		// Bound the exponent before big.Rat expands it: no integer field
		// holds more than 20 digits.
		if e, err := strconv.Atoi(s[i+1:]); err != nil || e > 40 || e < -40 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return nil, false
	}
	return r.Num(), true
}

func intRange(k protoreflect.Kind) (lo, hi *big.Int) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return big.NewInt(0), big.NewInt(math.MaxUint32)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64)
	}
	return big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
}

// kindName names what a field holds, for messages.
func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if fd.Message().FullName() == "google.protobuf.Timestamp" {
			return "timestamp"
		}
		return "object"
	case protoreflect.StringKind, protoreflect.EnumKind, protoreflect.BytesKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "number"
	}
	return "integer"
}

// typeName names a JSON value's type, with the value for scalars.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(truncate(x))
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case json.Number:
		return "number " + truncate(x.String())
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
