package manifest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

func parseOne(t *testing.T, data string) *v1.Job {
	t.Helper()
	objs, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(objs) != 1 {
		t.Fatalf("Parse: %d objects, want 1", len(objs))
	}
	job, ok := objs[0].(*v1.Job)
	if !ok {
		t.Fatalf("Parse: %T, want *v1.Job", objs[0])
	}
	return job
}

func TestExamples(t *testing.T) {
	for _, f := range []string{"../../examples/pi.yaml", "../../examples/parallel.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		job := parseOne(t, string(b))
		validation.DefaultJob(job)
		if err := validation.ValidateJob(job); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestPi(t *testing.T) {
	b, err := os.ReadFile("../../examples/pi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job := parseOne(t, string(b))
	want := &v1.Job{
		ApiVersion: "batch/v1",
		Kind:       "Job",
		Metadata:   &v1.ObjectMeta{Name: "pi"},
		Spec: &v1.JobSpec{
			BackoffLimit: proto.Int32(4),
			Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
				RestartPolicy: "Never",
				Containers: []*v1.Container{{
					Name: "pi", Image: "perl:5.34.0",
					Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"},
				}},
			}},
		},
	}
	if !proto.Equal(job, want) {
		t.Errorf("got %v\nwant %v", job, want)
	}
}

func TestJSONAndMultiDocument(t *testing.T) {
	objs, err := Parse([]byte(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a"}}
{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"b"},"spec":{"completions":3}}`))
	if err != nil || len(objs) != 2 || objs[1].(*v1.Job).GetSpec().GetCompletions() != 3 {
		t.Fatalf("JSON stream: %v %v", objs, err)
	}
	objs, err = Parse([]byte(`---
# only a comment
---
apiVersion: batch/v1
kind: Job
metadata: {name: a}
--- # the second
apiVersion: batch/v1
kind: Job
metadata: {name: b}
...
---
`))
	if err != nil || len(objs) != 2 || objs[1].(*v1.Job).GetMetadata().GetName() != "b" {
		t.Fatalf("YAML stream: %v %v", objs, err)
	}
	objs, err = Parse([]byte(`{"apiVersion":"v1","kind":"List","metadata":{},"items":[
	{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a"}},
	{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"b"}}]}`))
	if err != nil || len(objs) != 2 {
		t.Fatalf("List: %v %v", objs, err)
	}
	if objs, err := Parse([]byte("  \n# nothing\n")); err != nil || len(objs) != 0 {
		t.Fatalf("empty: %v %v", objs, err)
	}
}

func TestNormalisation(t *testing.T) {
	job := parseOne(t, `
apiVersion: batch/v1
kind: Job
metadata:
  name: q
  creationTimestamp: null
  labels: {}
spec:
  completions: 4.0
  activeDeadlineSeconds: 1e3
  template:
    metadata:
      creationTimestamp: "2024-01-02T15:04:05+01:00"
    spec:
      containers:
      - name: c
        image: busybox
        resources:
          requests: {cpu: 1, memory: 128974848}
          limits: {cpu: 0.5, memory: 1Gi}
`)
	s := job.GetSpec()
	if s.GetCompletions() != 4 || s.GetActiveDeadlineSeconds() != 1000 {
		t.Errorf("integers: %v", s)
	}
	r := s.GetTemplate().GetSpec().GetContainers()[0].GetResources()
	if r.GetRequests()["cpu"] != "1" || r.GetRequests()["memory"] != "128974848" || r.GetLimits()["cpu"] != "0.5" || r.GetLimits()["memory"] != "1Gi" {
		t.Errorf("quantities: %v", r)
	}
	if got := s.GetTemplate().GetMetadata().GetCreationTimestamp().AsTime().UTC().Hour(); got != 14 {
		t.Errorf("timestamp hour = %d", got)
	}
}

const header = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: bad\n"

// TestBadManifests holds one bad manifest per kind of mistake, with the
// error line expected for it.
func TestBadManifests(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"misspelt field", header + "spec:\n  template:\n    spec:\n      containerz: []\n",
			[]string{"spec.template.spec.containerz: unknown field"}},
		{"wrong type in list", header + "spec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: 5\n",
			[]string{"spec.template.spec.containers[0].image: expected string, got number 5"}},
		{"string for integer", header + "spec:\n  parallelism: five\n",
			[]string{`spec.parallelism: expected integer, got string "five"`}},
		{"fraction for integer", header + "spec:\n  completions: 1.5\n",
			[]string{"spec.completions: expected integer, got number 1.5"}},
		{"int32 overflow", header + "spec:\n  completions: 3000000000\n",
			[]string{"spec.completions: 3000000000 is out of range [-2147483648, 2147483647]"}},
		{"bool as string", header + "spec:\n  suspend: \"yes\"\n",
			[]string{`spec.suspend: expected boolean, got string "yes"`}},
		{"object for list", header + "spec:\n  template:\n    spec:\n      containers: {name: c}\n",
			[]string{"spec.template.spec.containers: expected array, got object"}},
		{"scalar for object", header + "spec: 3\n",
			[]string{"spec: expected object, got number 3"}},
		{"number label", header + "  labels:\n    tier: 1\n",
			[]string{"metadata.labels[tier]: expected string, got number 1"}},
		{"number nodeSelector", header + "spec:\n  template:\n    spec:\n      nodeSelector: {ssd: true}\n",
			[]string{"spec.template.spec.nodeSelector[ssd]: expected string, got boolean true"}},
		{"null in list", header + "spec:\n  template:\n    spec:\n      containers: [null]\n",
			[]string{"spec.template.spec.containers[0]: expected object, got null"}},
		{"bad timestamp", header + "  creationTimestamp: yesterday\n",
			[]string{`metadata.creationTimestamp: invalid timestamp "yesterday": must be RFC 3339, such as 2024-01-02T15:04:05Z`}},
		{"proto name instead of JSON name", header + "spec:\n  backoff_limit: 3\n",
			[]string{"spec.backoff_limit: unknown field"}},
		{"unsupported Kubernetes field", header + "spec:\n  template:\n    spec:\n      volumes: []\n      containers: [{name: c, image: x, volumeMounts: []}]\n",
			[]string{"spec.template.spec.containers[0].volumeMounts: unknown field", "spec.template.spec.volumes: unknown field"}},
		{"all errors gathered", header + "spec:\n  parallelism: x\n  completionz: 1\n  template: {spec: {restartPolicy: 1}}\n",
			[]string{"spec.completionz: unknown field", `spec.parallelism: expected integer, got string "x"`, "spec.template.spec.restartPolicy: expected string, got number 1"}},
		{"unknown kind", "apiVersion: batch/v1\nkind: Jobb\n",
			[]string{`kind: unknown kind "Jobb" in apiVersion "batch/v1" (supported: apps/v1 DaemonSet, batch/v1 CronJob, batch/v1 Job)`}},
		{"unknown apiVersion", "apiVersion: batch/v2\nkind: Job\n",
			[]string{`kind: unknown kind "Job" in apiVersion "batch/v2" (supported: apps/v1 DaemonSet, batch/v1 CronJob, batch/v1 Job)`}},
		{"no kind", "apiVersion: batch/v1\nmetadata: {name: x}\n",
			[]string{"kind: required"}},
		{"no apiVersion", "kind: Job\n",
			[]string{"apiVersion: required"}},
		{"not an object", "- a\n- b\n",
			[]string{"expected an object with apiVersion and kind, got array"}},
		{"malformed YAML", "apiVersion: batch/v1\nkind: Job\n metadata: x\n",
			[]string{"invalid YAML: yaml: line 3: mapping values are not allowed in this context"}},
		{"duplicate key", header + "spec:\n  completions: 1\n  completions: 2\n",
			[]string{`invalid YAML: yaml: unmarshal errors: line 7: key "completions" already set in map`}},
		{"malformed JSON", `{"apiVersion": "batch/v1", "kind": }`,
			[]string{"invalid JSON: invalid character '}' looking for beginning of value"}},
		{"oversize", header + "  annotations:\n    big: " + strings.Repeat("x", MaxDocumentSize) + "\n",
			[]string{fmt.Sprintf("document is %d bytes, more than the limit of 1048576", len(header)+len("  annotations:\n    big: \n")+MaxDocumentSize)}},
		{"second document bad", header + "---\n" + header + "spec:\n  parallelism: \"2\"\n---\n" + header + "spec: {x: 1}\n",
			[]string{`document 2: spec.parallelism: expected integer, got string "2"`, "document 3: spec.x: unknown field"}},
		{"list item", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"batch/v1","kind":"Job","spec":{"x":1}}]}`,
			[]string{"items[0].spec.x: unknown field"}},
		{"int64 overflow", header + "spec:\n  activeDeadlineSeconds: 1e30\n",
			[]string{"spec.activeDeadlineSeconds: 1e+30 is out of range [-9223372036854775808, 9223372036854775807]"}},
		{"deep in the failure policy (J15)", header + "spec:\n  podFailurePolicy:\n    rules:\n    - action: FailJob\n      onExitCodes: {operator: In, values: [1, \"2\"]}\n",
			[]string{`spec.podFailurePolicy.rules[0].onExitCodes.values[1]: expected integer, got string "2"`}},
		{"misspelt pod condition pattern field", header + "spec:\n  podFailurePolicy:\n    rules:\n    - action: Ignore\n      onPodConditions: [{type: DisruptionTarget, state: True}]\n",
			[]string{"spec.podFailurePolicy.rules[0].onPodConditions[0].state: unknown field"}},
		{"success policy indexes as a list (J16)", header + "spec:\n  successPolicy: {rules: [{succeededIndexes: [0, 1]}]}\n",
			[]string{"spec.successPolicy.rules[0].succeededIndexes: expected string, got array"}},
		{"misspelt selector requirement (J14)", header + "spec:\n  selector:\n    matchExpressions: [{key: a, operater: In}]\n",
			[]string{"spec.selector.matchExpressions[0].operater: unknown field"}},
		{"number env value", header + "spec:\n  template:\n    spec:\n      containers: [{name: c, image: x, env: [{name: A, value: 1}]}]\n",
			[]string{"spec.template.spec.containers[0].env[0].value: expected string, got number 1"}},
		{"object for a quantity", header + "spec:\n  template:\n    spec:\n      containers: [{name: c, image: x, resources: {requests: {cpu: {a: 1}}}}]\n",
			[]string{"spec.template.spec.containers[0].resources.requests[cpu]: expected string, got object"}},
		{"string for command list", header + "spec:\n  template:\n    spec:\n      containers: [{name: c, image: x, command: echo}]\n",
			[]string{`spec.template.spec.containers[0].command: expected array, got string "echo"`}},
		{"string for an owner reference flag", header + "  ownerReferences: [{kind: Job, controller: \"true\"}]\n",
			[]string{`metadata.ownerReferences[0].controller: expected boolean, got string "true"`}},
		{"string for dependsOn (J18)", header + "spec:\n  dependsOn: a\n",
			[]string{`spec.dependsOn: expected array, got string "a"`}},
	} {
		objs, err := Parse([]byte(tc.in))
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("%s: Parse = %v, %v; want an *Error", tc.name, objs, err)
			continue
		}
		if objs != nil {
			t.Errorf("%s: objects returned with an error", tc.name)
		}
		got := perr.Lines()
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		if l, ok := validation.AsErrorList(err); !ok || len(l) != len(tc.want) {
			t.Errorf("%s: AsErrorList = %v, %v", tc.name, l, ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"../../examples/pi.yaml", "../../examples/parallel.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"---\n---\n",
		`{"apiVersion":"batch/v1","kind":"Job","spec":{"completions":1e3}}`,
		`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"List","items":[]}]}`,
		header + "spec:\n  template:\n    spec:\n      containers: [{name: c, resources: {requests: {cpu: 1}}}]\n",
		"a: &a [*a]\n",
		"apiVersion: batch/v1\nkind: Job\nmetadata: {creationTimestamp: 2024-01-01T00:00:00Z}\n",
		"[1, {\"a\": null}]",
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\"}{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Parse(data)
		if err != nil && objs != nil {
			t.Fatal("objects and an error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
