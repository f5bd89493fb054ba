package labels

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Operator is a requirement's operator.
type Operator string

// The operators of a requirement. Equals and NotEquals are the one-value
// forms of In and NotIn.
const (
	Equals       Operator = "="
	NotEquals    Operator = "!="
	In           Operator = "in"
	NotIn        Operator = "notin"
	Exists       Operator = "exists"
	DoesNotExist Operator = "!"
)

// Requirement is one term of a selector.
type Requirement struct {
	Key      string
	Operator Operator
	Values   []string
}

// Matches reports whether the labels satisfy the requirement. As in
// Kubernetes, NotEquals and NotIn match an object without the key.
func (r Requirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case Equals, In:
		return ok && slices.Contains(r.Values, v)
	case NotEquals, NotIn:
		return !ok || !slices.Contains(r.Values, v)
	case Exists:
		return ok
	case DoesNotExist:
		return !ok
	}
	return false
}

// String renders the requirement in kubectl form.
func (r Requirement) String() string {
	switch r.Operator {
	case Equals, NotEquals:
		return r.Key + string(r.Operator) + r.Values[0]
	case In, NotIn:
		return r.Key + " " + string(r.Operator) + " (" + strings.Join(r.Values, ",") + ")"
	case Exists:
		return r.Key
	case DoesNotExist:
		return "!" + r.Key
	}
	return ""
}

// Selector is a conjunction of requirements; the empty selector matches
// everything.
type Selector []Requirement

// Everything returns the selector that matches every object.
func Everything() Selector { return nil }

// Empty reports whether the selector has no requirement (matches everything).
func (s Selector) Empty() bool { return len(s) == 0 }

// Matches reports whether the labels satisfy every requirement.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// String renders the selector in kubectl form; Parse reads it back.
func (s Selector) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// SelectorFromSet returns the selector that requires every key=value of set,
// in key order.
func SelectorFromSet(set map[string]string) Selector {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := make(Selector, 0, len(keys))
	for _, k := range keys {
		s = append(s, Requirement{Key: k, Operator: Equals, Values: []string{set[k]}})
	}
	return s
}

// FromLabelSelector converts an object's LabelSelector (matchLabels and
// matchExpressions) into a Selector. A nil LabelSelector selects nothing
// and is returned as an error, as Kubernetes treats it; an empty one selects
// everything. Keys, values and operators are validated.
func FromLabelSelector(ls *v1.LabelSelector) (Selector, error) {
	if ls == nil {
		return nil, fmt.Errorf("labels: nil selector")
	}
	s := SelectorFromSet(ls.GetMatchLabels())
	for _, r := range s {
		if err := validateRequirement(r); err != nil {
			return nil, err
		}
	}
	for _, e := range ls.GetMatchExpressions() {
		r := Requirement{Key: e.GetKey(), Values: slices.Clone(e.GetValues())}
		switch e.GetOperator() {
		case "In":
			r.Operator = In
		case "NotIn":
			r.Operator = NotIn
		case "Exists":
			r.Operator = Exists
		case "DoesNotExist":
			r.Operator = DoesNotExist
		default:
			return nil, fmt.Errorf("labels: unknown operator %q: must be In, NotIn, Exists or DoesNotExist", e.GetOperator())
		}
		if err := validateRequirement(r); err != nil {
			return nil, err
		}
		s = append(s, r)
	}
	return s, nil
}

func validateRequirement(r Requirement) error {
	if err := ValidateKey(r.Key); err != nil {
		return fmt.Errorf("labels: key %q: %v", r.Key, err)
	}
	switch r.Operator {
	case Equals, NotEquals:
		if len(r.Values) != 1 {
			return fmt.Errorf("labels: %q: exactly one value required", r.Key)
		}
	case In, NotIn:
		if len(r.Values) == 0 {
			return fmt.Errorf("labels: %q: operator %s needs at least one value", r.Key, r.Operator)
		}
	case Exists, DoesNotExist:
		if len(r.Values) != 0 {
			return fmt.Errorf("labels: %q: operator %s takes no values", r.Key, r.Operator)
		}
	}
	for _, v := range r.Values {
		if err := ValidateValue(v); err != nil {
			return fmt.Errorf("labels: value %q of %q: %v", v, r.Key, err)
		}
	}
	return nil
}

// Parse reads a selector in kubectl form: comma-separated terms, each one of
// "k=v", "k==v", "k!=v", "k in (v1,v2)", "k notin (v1,v2)", "k" (exists) or
// "!k" (does not exist). The empty string selects everything. Keys and
// values are validated; errors name the offending term.
func Parse(s string) (Selector, error) {
	p := &parser{in: s}
	var sel Selector
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	for {
		r, err := p.requirement()
		if err != nil {
			return nil, fmt.Errorf("labels: parse %q: %v", s, err)
		}
		if err := validateRequirement(r); err != nil {
			return nil, err
		}
		sel = append(sel, r)
		p.skipSpace()
		if p.eof() {
			return sel, nil
		}
		if p.in[p.pos] != ',' {
			return nil, fmt.Errorf("labels: parse %q: expected ',' at offset %d", s, p.pos)
		}
		p.pos++
		p.skipSpace()
		if p.eof() {
			return nil, fmt.Errorf("labels: parse %q: trailing ','", s)
		}
	}
}

type parser struct {
	in  string
	pos int
}

func (p *parser) eof() bool { return p.pos >= len(p.in) }

func (p *parser) skipSpace() {
	for !p.eof() && (p.in[p.pos] == ' ' || p.in[p.pos] == '\t') {
		p.pos++
	}
}

// word reads a key or value: everything up to a space or one of ",=!()".
func (p *parser) word() string {
	start := p.pos
	for !p.eof() && !strings.ContainsRune(" \t,=!()", rune(p.in[p.pos])) {
		p.pos++
	}
	return p.in[start:p.pos]
}

func (p *parser) requirement() (Requirement, error) {
	p.skipSpace()
	if !p.eof() && p.in[p.pos] == '!' {
		p.pos++
		p.skipSpace()
		k := p.word()
		if k == "" {
			return Requirement{}, fmt.Errorf("expected a key after '!' at offset %d", p.pos)
		}
		return Requirement{Key: k, Operator: DoesNotExist}, nil
	}
	k := p.word()
	if k == "" {
		return Requirement{}, fmt.Errorf("expected a key at offset %d", p.pos)
	}
	p.skipSpace()
	if p.eof() || p.in[p.pos] == ',' {
		return Requirement{Key: k, Operator: Exists}, nil
	}
	switch {
	case strings.HasPrefix(p.in[p.pos:], "!="):
		p.pos += 2
		return p.single(k, NotEquals)
	case strings.HasPrefix(p.in[p.pos:], "=="):
		p.pos += 2
		return p.single(k, Equals)
	case p.in[p.pos] == '=':
		p.pos++
		return p.single(k, Equals)
	}
	op := p.word()
	switch op {
	case "in":
		return p.set(k, In)
	case "notin":
		return p.set(k, NotIn)
	}
	return Requirement{}, fmt.Errorf("unknown operator %q after key %q", op, k)
}

func (p *parser) single(k string, op Operator) (Requirement, error) {
	p.skipSpace()
	v := p.word()
	return Requirement{Key: k, Operator: op, Values: []string{v}}, nil
}

func (p *parser) set(k string, op Operator) (Requirement, error) {
	p.skipSpace()
	if p.eof() || p.in[p.pos] != '(' {
		return Requirement{}, fmt.Errorf("expected '(' after %q %s", k, op)
	}
	p.pos++
	var vals []string
	for {
		p.skipSpace()
		v := p.word()
		p.skipSpace()
		if p.eof() {
			return Requirement{}, fmt.Errorf("missing ')' for %q", k)
		}
		switch p.in[p.pos] {
		case ',':
			p.pos++
			vals = append(vals, v)
		case ')':
			p.pos++
			if v != "" || len(vals) > 0 {
				vals = append(vals, v)
			}
			return Requirement{Key: k, Operator: op, Values: vals}, nil
		default:
			return Requirement{}, fmt.Errorf("unexpected %q in the values of %q", p.in[p.pos], k)
		}
	}
}
