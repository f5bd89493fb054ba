package validation

import (
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
)

var (
	dns1123LabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123SubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	envNameRE          = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
)

// MaxAnnotationsSize is the total size of an object's annotation keys and values.
const MaxAnnotationsSize = 256 * 1024

// IsDNS1123Subdomain returns why s is not a DNS-1123 subdomain (at most 253
// lower-case alphanumerics, '-' and '.', starting and ending alphanumeric),
// or "".
func IsDNS1123Subdomain(s string) string {
	switch {
	case len(s) > 253:
		return "must be no more than 253 characters"
	case !dns1123SubdomainRE.MatchString(s):
		return "must be a DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', starting and ending with an alphanumeric"
	}
	return ""
}

// IsDNS1123Label returns why s is not a DNS-1123 label (at most 63
// lower-case alphanumerics and '-', starting and ending alphanumeric), or "".
func IsDNS1123Label(s string) string {
	switch {
	case len(s) > 63:
		return "must be no more than 63 characters"
	case !dns1123LabelRE.MatchString(s):
		return "must be a DNS-1123 label: lower-case alphanumerics and '-', starting and ending with an alphanumeric"
	}
	return ""
}

// validateName checks a required object name.
func validateName(e *errs, p path, name string, maxLen int) {
	if name == "" {
		e.add(p, "required", name)
		return
	}
	if msg := IsDNS1123Subdomain(name); msg != "" {
		e.add(p, fmt.Sprintf("invalid value %q: %s", name, msg), name)
		return
	}
	if len(name) > maxLen {
		e.add(p, fmt.Sprintf("must be no more than %d characters", maxLen), name)
	}
}

// validateObjectMeta checks name (unless generateName is set), namespace,
// labels and annotations. maxName bounds the name where a kind needs a
// shorter one than 253 (a Job's name is also a label value).
func validateObjectMeta(e *errs, p path, md *v1.ObjectMeta, maxName int) {
	if md == nil {
		e.add(p, "required", nil)
		return
	}
	if md.GetName() == "" && md.GetGenerateName() != "" {
		prefix := strings.TrimSuffix(md.GetGenerateName(), "-")
		if msg := IsDNS1123Subdomain(prefix); msg != "" {
			e.add(p.child("generateName"), fmt.Sprintf("invalid value %q: %s", md.GetGenerateName(), msg), md.GetGenerateName())
		}
	} else {
		validateName(e, p.child("name"), md.GetName(), maxName)
	}
	if ns := md.GetNamespace(); ns != "" {
		if msg := IsDNS1123Label(ns); msg != "" {
			e.add(p.child("namespace"), fmt.Sprintf("invalid value %q: %s", ns, msg), ns)
		}
	}
	validateLabels(e, p.child("labels"), md.GetLabels())
	size := 0
	for _, k := range sortedKeys(md.GetAnnotations()) {
		if err := labels.ValidateKey(k); err != nil {
			e.add(p.child("annotations").key(k), fmt.Sprintf("invalid key: %v", err), k)
		}
		size += len(k) + len(md.GetAnnotations()[k])
	}
	if size > MaxAnnotationsSize {
		e.add(p.child("annotations"), fmt.Sprintf("must have at most %d bytes in all", MaxAnnotationsSize), size)
	}
}

// validateLabels checks label keys and values.
func validateLabels(e *errs, p path, m map[string]string) {
	for _, k := range sortedKeys(m) {
		if err := labels.ValidateKey(k); err != nil {
			e.add(p.key(k), fmt.Sprintf("invalid key: %v", err), k)
		}
		if err := labels.ValidateValue(m[k]); err != nil {
			e.add(p.key(k), fmt.Sprintf("invalid value %q: %v", m[k], err), m[k])
		}
	}
}

func validateLabelSelector(e *errs, p path, s *v1.LabelSelector) {
	validateLabels(e, p.child("matchLabels"), s.GetMatchLabels())
	for i, r := range s.GetMatchExpressions() {
		rp := p.child("matchExpressions").index(i)
		if err := labels.ValidateKey(r.GetKey()); err != nil {
			e.add(rp.child("key"), fmt.Sprintf("invalid key %q: %v", r.GetKey(), err), r.GetKey())
		}
		switch r.GetOperator() {
		case "In", "NotIn":
			if len(r.GetValues()) == 0 {
				e.add(rp.child("values"), "must be non-empty for operator "+r.GetOperator(), nil)
			}
		case "Exists", "DoesNotExist":
			if len(r.GetValues()) != 0 {
				e.add(rp.child("values"), "must be empty for operator "+r.GetOperator(), nil)
			}
		default:
			e.add(rp.child("operator"), unknownValue(r.GetOperator(), "In", "NotIn", "Exists", "DoesNotExist"), r.GetOperator())
		}
		for j, v := range r.GetValues() {
			if err := labels.ValidateValue(v); err != nil {
				e.add(rp.child("values").index(j), fmt.Sprintf("invalid value %q: %v", v, err), v)
			}
		}
	}
}

// unknownValue is the message for a value outside an enumeration.
func unknownValue(v string, allowed ...string) string {
	if v == "" {
		return "required: must be " + oneOf(allowed)
	}
	return fmt.Sprintf("unknown value %q: must be %s", v, oneOf(allowed))
}

func oneOf(allowed []string) string {
	switch len(allowed) {
	case 1:
		return allowed[0]
	case 2:
		return allowed[0] + " or " + allowed[1]
	}
	return strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
}
