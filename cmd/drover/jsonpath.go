package main

// A JSONPath template evaluator for -o jsonpath=..., the dialect of
// kubectl (https://kubernetes.io/docs/reference/kubectl/jsonpath/), over
// the objects' JSON (protojson, camelCase):
//
//	{.items[*].metadata.name}                 every name, space-separated
//	{.items[0].status.conditions[-1:].type}   indexes and slices
//	{range .items[*]}{.metadata.name}{"\n"}{end}
//	{.status.conditions[?(@.type=="Complete")].status}
//	{..name}  {.metadata.labels['job-name']}  {.items[*]['metadata.name']}
//
// Missing keys print nothing (as kubectl get does). A template without
// braces is taken as one expression ("jsonpath=.metadata.name").

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// jsonTemplate is a parsed template.
type jsonTemplate struct{ nodes []tmplNode }

// tmplNode is literal text, an expression, or a range block.
type tmplNode struct {
	text  string
	isTxt bool
	path  []pathStep
	body  []tmplNode // a range block's body
	rng   bool
}

// pathStep is one step of a path.
type pathStep struct {
	kind    stepKind
	names   []string   // stepField, stepRecursive (one name, "*" for all)
	quoted  bool       // stepField from ['a', 'b.c']: a missing key is a path
	indexes []sliceSel // stepIndex
	filter  *filterExpr
}

type stepKind int

const (
	stepField stepKind = iota
	stepWildcard
	stepRecursive
	stepIndex
	stepFilter
)

// sliceSel is an index (single) or a slice [start:end:step].
type sliceSel struct {
	single           bool
	start, end, step int
	hasStart, hasEnd bool
}

// filterExpr is [?(@.left op right)] or [?(@.left)].
type filterExpr struct {
	left  []pathStep
	op    string
	right any // a literal (string, json.Number, bool) or []pathStep
}

// parseJSONPath parses a template.
func parseJSONPath(tmpl string) (*jsonTemplate, error) {
	if !strings.Contains(tmpl, "{") {
		tmpl = "{" + tmpl + "}"
	}
	var stack [][]tmplNode
	var cur []tmplNode
	rest := tmpl
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			cur = append(cur, tmplNode{text: rest, isTxt: true})
			break
		}
		if open > 0 {
			cur = append(cur, tmplNode{text: rest[:open], isTxt: true})
		}
		end, err := closingBrace(rest, open)
		if err != nil {
			return nil, err
		}
		expr := strings.TrimSpace(rest[open+1 : end])
		rest = rest[end+1:]
		switch {
		case expr == "end":
			if len(stack) == 0 {
				return nil, fmt.Errorf("jsonpath: {end} without {range}")
			}
			parent := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			parent[len(parent)-1].body = cur
			cur = parent
		case strings.HasPrefix(expr, "range ") || strings.HasPrefix(expr, "range\t"):
			p, err := parsePath(strings.TrimSpace(expr[len("range"):]))
			if err != nil {
				return nil, err
			}
			cur = append(cur, tmplNode{path: p, rng: true})
			stack = append(stack, cur)
			cur = nil
		case strings.HasPrefix(expr, `"`) || strings.HasPrefix(expr, "'"):
			s, err := unquote(expr)
			if err != nil {
				return nil, fmt.Errorf("jsonpath: bad string %s: %w", expr, err)
			}
			cur = append(cur, tmplNode{text: s, isTxt: true})
		default:
			p, err := parsePath(expr)
			if err != nil {
				return nil, err
			}
			cur = append(cur, tmplNode{path: p})
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("jsonpath: {range} without {end}")
	}
	return &jsonTemplate{nodes: cur}, nil
}

// closingBrace finds the '}' that closes the '{' at open, skipping quoted
// strings.
func closingBrace(s string, open int) (int, error) {
	var quote byte
	for i := open + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '}':
			return i, nil
		}
	}
	return 0, fmt.Errorf("jsonpath: unclosed { in %q", s[open:])
}

// unquote reads a "..." or '...' literal with Go escapes (\n, \t, \").
func unquote(s string) (string, error) {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = `"` + strings.ReplaceAll(strings.ReplaceAll(s[1:len(s)-1], `\'`, `'`), `"`, `\"`) + `"`
	}
	return strconv.Unquote(s)
}

// parsePath reads ".a.b[0]['c'][?(@.x=="y")]..d" (a leading $ or @ is the
// root or the current object, which is the same thing here).
func parsePath(s string) ([]pathStep, error) {
	orig := s
	s = strings.TrimPrefix(strings.TrimPrefix(s, "$"), "@")
	var steps []pathStep
	for s != "" {
		switch {
		case strings.HasPrefix(s, ".."):
			s = s[2:]
			name, rest := readName(s)
			if name == "" && strings.HasPrefix(rest, "[") {
				name = "*" // ..[*]
			}
			if name == "" {
				return nil, fmt.Errorf("jsonpath: %q: a name must follow ..", orig)
			}
			steps = append(steps, pathStep{kind: stepRecursive, names: []string{name}})
			s = rest
		case s[0] == '.':
			name, rest := readName(s[1:])
			s = rest
			switch name {
			case "":
				if s != "" && s[0] != '[' {
					return nil, fmt.Errorf("jsonpath: %q: empty name", orig)
				}
			case "*":
				steps = append(steps, pathStep{kind: stepWildcard})
			default:
				steps = append(steps, pathStep{kind: stepField, names: []string{name}})
			}
		case s[0] == '[':
			end, err := closingBracket(s)
			if err != nil {
				return nil, fmt.Errorf("jsonpath: %q: %w", orig, err)
			}
			step, err := parseBracket(strings.TrimSpace(s[1:end]))
			if err != nil {
				return nil, fmt.Errorf("jsonpath: %q: %w", orig, err)
			}
			steps = append(steps, step)
			s = s[end+1:]
		default:
			// A bare first name ("metadata.name") is relative too.
			if len(steps) == 0 && orig == s {
				s = "." + s
				continue
			}
			return nil, fmt.Errorf("jsonpath: %q: unexpected %q", orig, s)
		}
	}
	return steps, nil
}

// readName reads a field name up to '.' or '[' ("\." escapes a dot).
func readName(s string) (string, string) {
	var b strings.Builder
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == '.' || c == '[' || c == ' ' {
			break
		}
		b.WriteByte(c)
	}
	return b.String(), s[i:]
}

// closingBracket finds the ']' closing s[0], skipping quotes and parens.
func closingBracket(s string) (int, error) {
	var quote byte
	depth := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || (c == ']' && depth > 0):
			depth--
		case c == ']':
			return i, nil
		}
	}
	return 0, fmt.Errorf("unclosed [")
}

// parseBracket reads what is inside [...].
func parseBracket(in string) (pathStep, error) {
	switch {
	case in == "*":
		return pathStep{kind: stepWildcard}, nil
	case strings.HasPrefix(in, "?"):
		f := strings.TrimSpace(in[1:])
		if !strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")") {
			return pathStep{}, fmt.Errorf("a filter is ?(...)")
		}
		fe, err := parseFilter(strings.TrimSpace(f[1 : len(f)-1]))
		if err != nil {
			return pathStep{}, err
		}
		return pathStep{kind: stepFilter, filter: fe}, nil
	case strings.HasPrefix(in, "'") || strings.HasPrefix(in, `"`):
		var names []string
		for _, part := range splitTop(in, ',') {
			n, err := unquote(strings.TrimSpace(part))
			if err != nil {
				return pathStep{}, fmt.Errorf("bad key %s", part)
			}
			names = append(names, n)
		}
		return pathStep{kind: stepField, names: names, quoted: true}, nil
	}
	var sels []sliceSel
	for _, part := range strings.Split(in, ",") {
		part = strings.TrimSpace(part)
		if !strings.Contains(part, ":") {
			n, err := strconv.Atoi(part)
			if err != nil {
				return pathStep{}, fmt.Errorf("bad index %q", part)
			}
			sels = append(sels, sliceSel{single: true, start: n})
			continue
		}
		f := strings.Split(part, ":")
		if len(f) > 3 {
			return pathStep{}, fmt.Errorf("bad slice %q", part)
		}
		sel := sliceSel{step: 1}
		for i, v := range f {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return pathStep{}, fmt.Errorf("bad slice %q", part)
			}
			switch i {
			case 0:
				sel.start, sel.hasStart = n, true
			case 1:
				sel.end, sel.hasEnd = n, true
			case 2:
				if n <= 0 {
					return pathStep{}, fmt.Errorf("slice step must be > 0 in %q", part)
				}
				sel.step = n
			}
		}
		sels = append(sels, sel)
	}
	return pathStep{kind: stepIndex, indexes: sels}, nil
}

// splitTop splits s on sep outside quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	var quote byte
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == sep:
			out = append(out, s[last:i])
			last = i + 1
		}
	}
	return append(out, s[last:])
}

var filterOps = []string{"==", "!=", "<=", ">=", "<", ">"}

// parseFilter reads "@.a.b == 'x'", "@.n > 1" or "@.a".
func parseFilter(s string) (*filterExpr, error) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
			continue
		case quote != 0 && c == quote:
			quote = 0
			continue
		case quote != 0:
			continue
		case c == '"' || c == '\'':
			quote = c
			continue
		}
		for _, op := range filterOps {
			if strings.HasPrefix(s[i:], op) {
				left, err := parseOperand(strings.TrimSpace(s[:i]))
				if err != nil {
					return nil, err
				}
				right, err := parseOperand(strings.TrimSpace(s[i+len(op):]))
				if err != nil {
					return nil, err
				}
				lp, ok := left.([]pathStep)
				if !ok {
					return nil, fmt.Errorf("the left of %s in a filter must be a path (@.field)", op)
				}
				return &filterExpr{left: lp, op: op, right: right}, nil
			}
		}
	}
	p, err := parseOperand(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	lp, ok := p.([]pathStep)
	if !ok {
		return nil, fmt.Errorf("a filter tests a path (@.field)")
	}
	return &filterExpr{left: lp}, nil
}

// parseOperand reads a filter operand: a path, a string, a number or a bool.
func parseOperand(s string) (any, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("empty operand in a filter")
	case s[0] == '@' || s[0] == '$' || s[0] == '.':
		return parsePath(s)
	case s[0] == '"' || s[0] == '\'':
		return unquote(s)
	case s == "true" || s == "false":
		return s == "true", nil
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return nil, fmt.Errorf("bad literal %q in a filter", s)
	}
	return json.Number(s), nil
}

// execute writes the template applied to the JSON document data.
func (t *jsonTemplate) execute(w io.Writer, data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var root any
	if err := d.Decode(&root); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := execNodes(&buf, t.nodes, root); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func execNodes(buf *bytes.Buffer, nodes []tmplNode, cur any) error {
	for _, n := range nodes {
		switch {
		case n.isTxt:
			buf.WriteString(n.text)
		case n.rng:
			for _, v := range evalPath(n.path, []any{cur}) {
				if err := execNodes(buf, n.body, v); err != nil {
					return err
				}
			}
		default:
			for i, v := range evalPath(n.path, []any{cur}) {
				if i > 0 {
					buf.WriteByte(' ')
				}
				s, err := textOf(v)
				if err != nil {
					return err
				}
				buf.WriteString(s)
			}
		}
	}
	return nil
}

// textOf prints a value: strings raw, numbers and bools as JSON, objects
// and arrays as compact JSON.
func textOf(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case nil:
		return "null", nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// evalPath applies steps to every value in vals. A union ([0,2],
// ['a','b']) gives its first member's results for every value, then its
// second's, as kubectl does.
func evalPath(steps []pathStep, vals []any) []any {
	for _, st := range steps {
		var next []any
		for _, member := range unionMembers(st) {
			for _, v := range vals {
				next = append(next, evalStep(member, v)...)
			}
		}
		vals = next
	}
	return vals
}

// unionMembers splits a union step into one step per member.
func unionMembers(st pathStep) []pathStep {
	switch {
	case st.kind == stepField && len(st.names) > 1:
		out := make([]pathStep, len(st.names))
		for i, n := range st.names {
			out[i] = pathStep{kind: stepField, names: []string{n}, quoted: st.quoted}
		}
		return out
	case st.kind == stepIndex && len(st.indexes) > 1:
		out := make([]pathStep, len(st.indexes))
		for i, sel := range st.indexes {
			out[i] = pathStep{kind: stepIndex, indexes: []sliceSel{sel}}
		}
		return out
	}
	return []pathStep{st}
}

func evalStep(st pathStep, v any) []any {
	switch st.kind {
	case stepField:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		var out []any
		for _, n := range st.names {
			if x, ok := m[n]; ok {
				out = append(out, x)
			} else if st.quoted && strings.Contains(n, ".") {
				// kubectl reads ['metadata.name'] as a path.
				if p, err := parsePath("." + n); err == nil {
					out = append(out, evalPath(p, []any{v})...)
				}
			}
		}
		return out
	case stepWildcard:
		return children(v)
	case stepRecursive:
		var out []any
		walkJSON(v, func(x any) {
			if st.names[0] == "*" {
				out = append(out, children(x)...)
				return
			}
			if m, ok := x.(map[string]any); ok {
				if y, ok := m[st.names[0]]; ok {
					out = append(out, y)
				}
			}
		})
		return out
	case stepIndex:
		a, ok := v.([]any)
		if !ok {
			return nil
		}
		var out []any
		for _, sel := range st.indexes {
			out = append(out, applySlice(sel, a)...)
		}
		return out
	case stepFilter:
		var out []any
		for _, x := range children(v) {
			if st.filter.matches(x) {
				out = append(out, x)
			}
		}
		return out
	}
	return nil
}

// children are an array's elements or an object's values by key order.
func children(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = v[k]
		}
		return out
	}
	return nil
}

// walkJSON calls f on v and every value under it, depth first.
func walkJSON(v any, f func(any)) {
	f(v)
	for _, c := range children(v) {
		walkJSON(c, f)
	}
}

func applySlice(sel sliceSel, a []any) []any {
	n := len(a)
	norm := func(i int) int {
		if i < 0 {
			i += n
		}
		return i
	}
	if sel.single {
		i := norm(sel.start)
		if i < 0 || i >= n {
			return nil
		}
		return []any{a[i]}
	}
	start, end := 0, n
	if sel.hasStart {
		start = max(norm(sel.start), 0)
	}
	if sel.hasEnd {
		end = min(norm(sel.end), n)
	}
	var out []any
	for i := start; i < end; i += sel.step {
		out = append(out, a[i])
	}
	return out
}

// matches evaluates the filter on one element.
func (f *filterExpr) matches(x any) bool {
	lefts := evalPath(f.left, []any{x})
	if f.op == "" {
		for _, l := range lefts {
			if l != nil && l != false {
				return true
			}
		}
		return false
	}
	rights := []any{f.right}
	if p, ok := f.right.([]pathStep); ok {
		rights = evalPath(p, []any{x})
	}
	for _, l := range lefts {
		for _, r := range rights {
			if compare(l, f.op, r) {
				return true
			}
		}
	}
	return false
}

// compare compares numbers as numbers and anything else as text.
func compare(l any, op string, r any) bool {
	ln, lok := number(l)
	rn, rok := number(r)
	if lok && rok {
		switch op {
		case "==":
			return ln == rn
		case "!=":
			return ln != rn
		case "<":
			return ln < rn
		case "<=":
			return ln <= rn
		case ">":
			return ln > rn
		case ">=":
			return ln >= rn
		}
	}
	ls, err1 := textOf(l)
	rs, err2 := textOf(r)
	if err1 != nil || err2 != nil {
		return false
	}
	switch op {
	case "==":
		return ls == rs
	case "!=":
		return ls != rs
	case "<":
		return ls < rs
	case "<=":
		return ls <= rs
	case ">":
		return ls > rs
	case ">=":
		return ls >= rs
	}
	return false
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}
