package labels

import (
	"strings"
	"testing"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func TestValidateKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"app", true},
		{"job-name", true},
		{"batch.kubernetes.io/job-completion-index", true},
		{"A_b.c-9", true},
		{"", false},
		{"-app", false},
		{"app-", false},
		{"a/b/c", false},
		{"/app", false},
		{"Example.com/app", false},
		{"example.com/", false},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("a", 254) + "/b", false},
	} {
		err := ValidateKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
	}
}

func TestValidateValue(t *testing.T) {
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"", true},
		{"web", true},
		{"Web_1.2-x", true},
		{"a b", false},
		{"-a", false},
		{"a/b", false},
		{strings.Repeat("v", 64), false},
	} {
		if err := ValidateValue(tc.v); (err == nil) != tc.ok {
			t.Errorf("ValidateValue(%q) = %v, want ok=%v", tc.v, err, tc.ok)
		}
	}
}

func TestParseAndMatch(t *testing.T) {
	lbls := map[string]string{"app": "web", "tier": "front", "env": "prod"}
	for _, tc := range []struct {
		sel   string
		match bool
		str   string
	}{
		{"", true, ""},
		{"app=web", true, "app=web"},
		{"app==web", true, "app=web"},
		{"app = web , tier=front", true, "app=web,tier=front"},
		{"app!=web", false, "app!=web"},
		{"missing!=x", true, "missing!=x"},
		{"env in (prod, staging)", true, "env in (prod,staging)"},
		{"env notin (prod)", false, "env notin (prod)"},
		{"missing notin (a)", true, "missing notin (a)"},
		{"app", true, "app"},
		{"!app", false, "!app"},
		{"!canary", true, "!canary"},
		{"app=web,!canary,env in (prod)", true, "app=web,!canary,env in (prod)"},
		{"app=", false, "app="},
	} {
		s, err := Parse(tc.sel)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.sel, err)
			continue
		}
		if got := s.Matches(lbls); got != tc.match {
			t.Errorf("Parse(%q).Matches = %v, want %v", tc.sel, got, tc.match)
		}
		if got := s.String(); got != tc.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.sel, got, tc.str)
		}
		if again, err := Parse(s.String()); err != nil || again.String() != s.String() {
			t.Errorf("round trip of %q: %v %q", tc.sel, err, again)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, sel := range []string{
		"app=web,",
		",app",
		"app in prod",
		"app in (prod",
		"app in ()",
		"app ~ web",
		"app=we b",
		"-bad=x",
		"app=-bad",
		"!",
		"a (b)",
	} {
		if s, err := Parse(sel); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", sel, s)
		}
	}
}

func TestFromLabelSelector(t *testing.T) {
	s, err := FromLabelSelector(&v1.LabelSelector{
		MatchLabels: map[string]string{"job-name": "pi", "controller-uid": "u1"},
		MatchExpressions: []*v1.LabelSelectorRequirement{
			{Key: "tier", Operator: "In", Values: []string{"a", "b"}},
			{Key: "canary", Operator: "DoesNotExist"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "controller-uid=u1,job-name=pi,tier in (a,b),!canary"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !s.Matches(map[string]string{"job-name": "pi", "controller-uid": "u1", "tier": "b"}) {
		t.Error("want a match")
	}
	if s.Matches(map[string]string{"job-name": "pi", "controller-uid": "u1", "tier": "b", "canary": ""}) {
		t.Error("want no match with canary set")
	}
	for _, bad := range []*v1.LabelSelector{
		nil,
		{MatchExpressions: []*v1.LabelSelectorRequirement{{Key: "a", Operator: "Maybe"}}},
		{MatchExpressions: []*v1.LabelSelectorRequirement{{Key: "a", Operator: "In"}}},
		{MatchExpressions: []*v1.LabelSelectorRequirement{{Key: "a", Operator: "Exists", Values: []string{"x"}}}},
		{MatchLabels: map[string]string{"a": "b c"}},
	} {
		if _, err := FromLabelSelector(bad); err == nil {
			t.Errorf("FromLabelSelector(%v): want an error", bad)
		}
	}
	if s, err := FromLabelSelector(&v1.LabelSelector{}); err != nil || !s.Empty() {
		t.Errorf("empty selector: %v %v", s, err)
	}
}
