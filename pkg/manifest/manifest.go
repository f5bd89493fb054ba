// Package manifest reads Kubernetes-shaped YAML or JSON manifests into
// Drover's API objects (SPEC O2, O4). Parsing is strict: every field of the
// input is checked against the object's proto schema before it is decoded,
// so a misspelt or unsupported field, or a value of the wrong type, is an
// error naming its path, never silently dropped. Parse does not validate
// values (see package validation) and sets no defaults.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

// MaxDocumentSize is the largest document Parse accepts, in bytes of input.
const MaxDocumentSize = 1 << 20

// Object is a decoded API object, such as *v1.Job; use a type switch.
type Object = proto.Message

// GVK names a kind of object as a manifest does.
type GVK struct {
	APIVersion string
	Kind       string
}

func (g GVK) String() string { return g.APIVersion + " " + g.Kind }

// kinds maps each supported apiVersion and kind to a constructor. Adding a
// kind is one line.
var kinds = map[GVK]func() Object{
	{"batch/v1", "Job"}:      func() Object { return new(v1.Job) },
	{"batch/v1", "CronJob"}:  func() Object { return new(v1.CronJob) },
	{"apps/v1", "DaemonSet"}: func() Object { return new(v1.DaemonSet) },
}

// Kinds lists the supported kinds, sorted.
func Kinds() []GVK {
	out := make([]GVK, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Error is what Parse returns for bad input: every problem found, grouped by
// document.
type Error struct {
	// Documents holds the documents that have errors, in order.
	Documents []DocumentError
	// multi is set when the input had several documents, so that messages
	// name the document.
	multi bool
}

// DocumentError is the errors of one document.
type DocumentError struct {
	// Index is the document's 1-based position among the non-empty
	// documents of the input.
	Index int
	Errs  validation.ErrorList
}

// Lines renders one line per field error: "spec.parallelism: expected
// integer, got string", prefixed with "document 2: " when the input had
// several documents.
func (e *Error) Lines() []string {
	var out []string
	for _, d := range e.Documents {
		for _, fe := range d.Errs {
			if e.multi {
				out = append(out, fmt.Sprintf("document %d: %s", d.Index, fe.Error()))
			} else {
				out = append(out, fe.Error())
			}
		}
	}
	return out
}

// Error joins Lines with "; ".
func (e *Error) Error() string { return strings.Join(e.Lines(), "; ") }

// FieldErrors returns every field error, without document numbers.
func (e *Error) FieldErrors() validation.ErrorList {
	var out validation.ErrorList
	for _, d := range e.Documents {
		out = append(out, d.Errs...)
	}
	return out
}

// Unwrap returns FieldErrors, so that errors.As finds a validation.ErrorList.
func (e *Error) Unwrap() error { return e.FieldErrors() }

// Parse decodes every non-empty document of data, YAML ("---"-separated) or
// JSON (one or more concatenated objects), into API objects chosen by each
// document's apiVersion and kind. A document of kind List (apiVersion v1)
// contributes its items. Parse returns either all the objects or no object
// and an *Error listing every problem of every document: malformed input, a
// document over MaxDocumentSize, an unknown kind, an unknown field, a value
// of the wrong type. Numbers written for resource quantities (cpu: 1) are
// read as their string form ("1").
func Parse(data []byte) ([]Object, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	docs, splitErr := split(data)
	var (
		objs []Object
		perr = &Error{multi: len(docs) > 1}
	)
	if splitErr != nil {
		perr.Documents = append(perr.Documents, DocumentError{Index: len(docs) + 1, Errs: validation.ErrorList{{Detail: splitErr.Error()}}})
		perr.multi = perr.multi || len(docs) > 0
	}
	for i, doc := range docs {
		if doc.err != nil {
			perr.Documents = append(perr.Documents, DocumentError{Index: i + 1, Errs: validation.ErrorList{{Detail: doc.err.Error()}}})
			continue
		}
		got, errs := decodeDocument(doc.tree)
		if len(errs) > 0 {
			perr.Documents = append(perr.Documents, DocumentError{Index: i + 1, Errs: errs})
			continue
		}
		objs = append(objs, got...)
	}
	if len(perr.Documents) > 0 {
		return nil, perr
	}
	return objs, nil
}

// document is one decoded JSON tree, or why it could not be decoded.
type document struct {
	tree any
	err  error
}

// split cuts data into non-empty documents decoded into JSON trees (numbers
// as json.Number). A JSON stream that cannot be read any further yields an
// error after the documents read so far.
func split(data []byte) ([]document, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return splitJSON(trimmed)
	}
	var docs []document
	for _, raw := range splitYAML(data) {
		if len(raw) > MaxDocumentSize {
			docs = append(docs, document{err: fmt.Errorf("document is %d bytes, more than the limit of %d", len(raw), MaxDocumentSize)})
			continue
		}
		j, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
			msg = strings.ReplaceAll(strings.ReplaceAll(msg, ":\n  ", ": "), "\n  ", "; ")
			docs = append(docs, document{err: fmt.Errorf("invalid YAML: %s", msg)})
			continue
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue // empty document: only comments or whitespace
		}
		tree, err := decodeJSON(j)
		if err != nil {
			docs = append(docs, document{err: err})
			continue
		}
		docs = append(docs, document{tree: tree})
	}
	return docs, nil
}

func splitJSON(data []byte) ([]document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var docs []document
	for {
		start := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("invalid JSON: %v", err)
		}
		if dec.InputOffset()-start > MaxDocumentSize {
			docs = append(docs, document{err: fmt.Errorf("document is %d bytes, more than the limit of %d", dec.InputOffset()-start, MaxDocumentSize)})
			continue
		}
		tree, err := decodeJSON(raw)
		docs = append(docs, document{tree: tree, err: err})
	}
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	return tree, nil
}

// splitYAML cuts YAML at document separator lines ("---", possibly followed
// by a space and a comment). A "..." document end line is dropped.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	var cur []byte
	for line := range bytes.Lines(data) {
		t := bytes.TrimRight(line, "\r\n")
		if bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) || bytes.HasPrefix(t, []byte("---\t")) {
			docs = append(docs, cur)
			cur = nil
			continue
		}
		if bytes.Equal(bytes.TrimRight(t, " \t"), []byte("...")) {
			continue
		}
		cur = append(cur, line...)
	}
	return append(docs, cur)
}

// decodeDocument checks one document's tree against its kind's schema and
// decodes it.
func decodeDocument(tree any) ([]Object, validation.ErrorList) {
	obj, ok := tree.(map[string]any)
	if !ok {
		return nil, validation.ErrorList{{Detail: fmt.Sprintf("expected an object with apiVersion and kind, got %s", typeName(tree))}}
	}
	av, avOK := obj["apiVersion"].(string)
	kind, kindOK := obj["kind"].(string)
	var errs validation.ErrorList
	if !avOK || av == "" {
		errs = append(errs, validation.FieldError{Field: "apiVersion", Detail: "required"})
	}
	if !kindOK || kind == "" {
		errs = append(errs, validation.FieldError{Field: "kind", Detail: "required"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if av == "v1" && kind == "List" {
		return decodeList(obj)
	}
	newObj, ok := kinds[GVK{av, kind}]
	if !ok {
		return nil, validation.ErrorList{{Field: "kind", Detail: unknownKind(av, kind), Value: kind}}
	}
	msg := newObj()
	w := &walker{}
	w.message("", msg.ProtoReflect().Descriptor(), obj)
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	b, err := json.Marshal(obj)
	if err == nil {
		err = protojson.Unmarshal(b, msg)
	}
	if err != nil {
		// The walk accepts only what protojson reads, so this is a bug.
		return nil, validation.ErrorList{{Detail: fmt.Sprintf("cannot decode %s: %v", kind, err)}}
	}
	return []Object{msg}, nil
}

func decodeList(obj map[string]any) ([]Object, validation.ErrorList) {
	var errs validation.ErrorList
	for _, k := range sortedKeys(obj) {
		if k != "apiVersion" && k != "kind" && k != "items" && k != "metadata" {
			errs = append(errs, validation.FieldError{Field: k, Detail: "unknown field"})
		}
	}
	items, ok := obj["items"].([]any)
	if !ok && obj["items"] != nil {
		errs = append(errs, validation.FieldError{Field: "items", Detail: "expected array, got " + typeName(obj["items"])})
	}
	var out []Object
	for i, it := range items {
		got, ierrs := decodeDocument(it)
		for _, e := range ierrs {
			e.Field = strings.TrimSuffix(fmt.Sprintf("items[%d].%s", i, e.Field), ".")
			errs = append(errs, e)
		}
		out = append(out, got...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func unknownKind(av, kind string) string {
	var known []string
	for _, k := range Kinds() {
		known = append(known, k.String())
	}
	return fmt.Sprintf("unknown kind %q in apiVersion %q (supported: %s)", kind, av, strings.Join(known, ", "))
}
