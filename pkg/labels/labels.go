// Package labels parses and matches label selectors the way kubectl writes
// them ("app=web,tier!=db,env in (prod,staging),!canary") and validates label
// keys and values by the Kubernetes rules (SPEC O1).
package labels

import (
	"fmt"
	"regexp"
	"strings"
)

const (
	// MaxNameLength is the longest name part of a key, and the longest value.
	MaxNameLength = 63
	// MaxPrefixLength is the longest prefix of a key (a DNS-1123 subdomain).
	MaxPrefixLength = 253
)

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	subdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// ValidateKey reports why key is not a valid label key, or returns nil. A key
// is an optional DNS-1123 subdomain prefix (at most 253 characters) and a
// slash, then a name of at most 63 characters: alphanumerics, '-', '_' and
// '.', starting and ending alphanumeric.
func ValidateKey(key string) error {
	name := key
	if i := strings.IndexByte(key, '/'); i >= 0 {
		prefix := key[:i]
		name = key[i+1:]
		switch {
		case prefix == "":
			return fmt.Errorf("prefix part must be non-empty")
		case len(prefix) > MaxPrefixLength:
			return fmt.Errorf("prefix part must be no more than %d characters", MaxPrefixLength)
		case !subdomainRE.MatchString(prefix):
			return fmt.Errorf("prefix part must be a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.')")
		}
	}
	switch {
	case name == "":
		return fmt.Errorf("name part must be non-empty")
	case len(name) > MaxNameLength:
		return fmt.Errorf("name part must be no more than %d characters", MaxNameLength)
	case !nameRE.MatchString(name):
		return fmt.Errorf("name part must consist of alphanumerics, '-', '_' or '.', and must start and end with an alphanumeric")
	}
	return nil
}

// ValidateValue reports why value is not a valid label value, or returns
// nil. A value is empty or at most 63 characters: alphanumerics, '-', '_' and
// '.', starting and ending alphanumeric.
func ValidateValue(value string) error {
	switch {
	case value == "":
		return nil
	case len(value) > MaxNameLength:
		return fmt.Errorf("must be no more than %d characters", MaxNameLength)
	case !nameRE.MatchString(value):
		return fmt.Errorf("must consist of alphanumerics, '-', '_' or '.', and must start and end with an alphanumeric")
	}
	return nil
}
