package main

import (
	"bytes"
	"testing"
)

const jpDoc = `{
  "kind": "List",
  "items": [
    {"metadata": {"name": "pi", "labels": {"job-name": "pi", "kubernetes.io/hostname": "n1"}},
     "spec": {"completions": 3, "parallelism": 2},
     "status": {"succeeded": 3, "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "Complete", "status": "True", "reason": "CompletionsReached"}]}},
    {"metadata": {"name": "sleep"},
     "spec": {"completions": 1},
     "status": {"active": 1, "ready": true}},
    {"metadata": {"name": "bad"},
     "spec": {"completions": 5},
     "status": {"failed": 7, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}
  ]
}`

// TestJSONPath covers the kubectl JSONPath dialect
// (kubernetes.io/docs/reference/kubectl/jsonpath) on a List document.
func TestJSONPath(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{`{.kind}`, "List"},
		{`.kind`, "List"},
		{`kind`, "List"},
		{`{$.kind}`, "List"},
		{`{.items[*].metadata.name}`, "pi sleep bad"},
		{`{.items[0].metadata.name}`, "pi"},
		{`{.items[-1].metadata.name}`, "bad"},
		{`{.items[1:].metadata.name}`, "sleep bad"},
		{`{.items[:2].metadata.name}`, "pi sleep"},
		{`{.items[0:3:2].metadata.name}`, "pi bad"},
		{`{.items[0,2].metadata.name}`, "pi bad"},
		{`{['kind']}`, "List"},
		{`{.items[*]['metadata.name', 'spec.completions']}`, "pi sleep bad 3 1 5"},
		{`{.items[0:2].spec['completions','parallelism']}`, "3 1 2"},
		{`{.items[7].metadata.name}`, ""},
		{`{.items[*].spec.completions}`, "3 1 5"},
		{`{.items[0].status.conditions[-1:].type}`, "Complete"},
		{`{.items[0].metadata.labels.job-name}`, "pi"},
		{`{.items[0].metadata.labels['kubernetes.io/hostname']}`, "n1"},
		{`{.items[0].metadata.labels.kubernetes\.io/hostname}`, "n1"},
		{`{.items[0].metadata['name','labels']}`, `pi {"job-name":"pi","kubernetes.io/hostname":"n1"}`},
		{`{.items[0].spec}`, `{"completions":3,"parallelism":2}`},
		{`{.items[0].spec.*}`, "3 2"},
		{`{.items[1].status.ready}`, "true"},
		{`{.items[*].metadata.missing}`, ""},
		{`{..name}`, "pi sleep bad"},
		{`{.items[*].status.conditions[?(@.type=="Complete")].reason}`, "CompletionsReached"},
		{`{.items[*].status.conditions[?(@.type=='Failed')].reason}`, "BackoffLimitExceeded"},
		{`{.items[?(@.spec.completions>2)].metadata.name}`, "pi bad"},
		{`{.items[?(@.spec.completions<=1)].metadata.name}`, "sleep"},
		{`{.items[?(@.metadata.name!="pi")].metadata.name}`, "sleep bad"},
		{`{.items[?(@.status.active)].metadata.name}`, "sleep"},
		{`{.items[?(@.status.succeeded==@.spec.completions)].metadata.name}`, "pi"},
		{`{range .items[*]}{.metadata.name}{"\n"}{end}`, "pi\nsleep\nbad\n"},
		{`{range .items[*]}[{.metadata.name}, {.spec.completions}] {end}`, "[pi, 3] [sleep, 1] [bad, 5] "},
		{`{range .items[*]}{.metadata.name}{":"}{range .status.conditions[*]}{.type}{","}{end}{"\t"}{end}`,
			"pi:SuccessCriteriaMet,Complete,\tsleep:\tbad:Failed,\t"},
		{`names: {.items[*].metadata.name}!`, "names: pi sleep bad!"},
		{`{"{}"}`, "{}"},
		{`{'a\'b'}`, "a'b"},
	} {
		p, err := parseJSONPath(tc.tmpl)
		if err != nil {
			t.Errorf("%s: %v", tc.tmpl, err)
			continue
		}
		var out bytes.Buffer
		if err := p.execute(&out, []byte(jpDoc)); err != nil {
			t.Errorf("%s: %v", tc.tmpl, err)
			continue
		}
		if out.String() != tc.want {
			t.Errorf("%s = %q, want %q", tc.tmpl, out.String(), tc.want)
		}
	}
}

func TestJSONPathErrors(t *testing.T) {
	for _, tmpl := range []string{
		`{.items[*]`,
		`{range .items[*]}{.a}`,
		`{end}`,
		`{.items[x]}`,
		`{.items[?(@.a==)]}`,
		`{.items[?@.a]}`,
		`{.items[0:1:0]}`,
		`{.a[}`,
		`{"unterminated}`,
		`{.a b}`,
	} {
		if _, err := parseJSONPath(tmpl); err == nil {
			t.Errorf("%s: parsed, want an error", tmpl)
		}
	}
}

// FuzzJSONPath: any template either fails to parse with an error or runs
// on a document without panicking (make fuzz).
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{
		`{.items[*].metadata.name}`, `{range .items[*]}{.metadata.name}{"\n"}{end}`,
		`{.items[?(@.spec.completions>2)].metadata.name}`, `{..name}`, `{.items[-1:]}`,
		`{.items[*]['metadata.name', 'spec']}`, `{'a\'b'}`, `{.items[0:3:2]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		p, err := parseJSONPath(tmpl)
		if err != nil {
			return
		}
		var out bytes.Buffer
		_ = p.execute(&out, []byte(jpDoc))
	})
}
