package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func TestApplyCreateConfigureUnchanged(t *testing.T) {
	c := newCLI(t)
	out, _, err := c.run("apply", "-f", "../../examples/pi.yaml")
	if err != nil || out != "job.batch/pi created\n" {
		t.Fatalf("first apply: %q %v", out, err)
	}
	out, _, err = c.run("apply", "-f", "../../examples/pi.yaml")
	if err != nil || out != "job.batch/pi unchanged\n" {
		t.Fatalf("second apply: %q %v", out, err)
	}
	c.stdin = strings.Replace(readFile(t, "../../examples/pi.yaml"), "backoffLimit: 4", "backoffLimit: 4\n  parallelism: 3\n  suspend: true", 1)
	out, _, err = c.run("apply", "-f", "-")
	if err != nil || out != "job.batch/pi configured\n" {
		t.Fatalf("changed apply: %q %v", out, err)
	}
	j := c.srv.Job("default", "pi")
	if j.GetSpec().GetParallelism() != 3 || !j.GetSpec().GetSuspend() {
		t.Errorf("stored spec = %v", j.GetSpec())
	}
	// A template change is sent, and the server refuses it.
	c.stdin = strings.Replace(readFile(t, "../../examples/pi.yaml"), "perl:5.34.0", "perl:5.36", 1)
	if _, _, err := c.run("apply", "-f", "-"); err == nil || err.Error() != "spec.template: field is immutable" {
		t.Errorf("template change: %v", err)
	}
}

func TestApplyMultiDocumentAndNamespace(t *testing.T) {
	c := newCLI(t)
	c.stdin = readFile(t, "../../examples/pi.yaml") + "---\n" + readFile(t, "../../examples/parallel.yaml")
	out, _, err := c.run("apply", "-n", "batch", "-f", "-")
	if err != nil || out != "job.batch/pi created\njob.batch/parallel created\n" {
		t.Fatalf("apply: %q %v", out, err)
	}
	if c.srv.Job("batch", "parallel").GetSpec().GetCompletions() != 20 {
		t.Error("parallel not stored in namespace batch")
	}
	// A directory.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), strings.Replace(readFile(t, "../../examples/pi.yaml"), "name: pi", "name: dir-a", 1))
	writeFile(t, filepath.Join(dir, "b.json"), `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"dir-b"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}`)
	writeFile(t, filepath.Join(dir, "notes.txt"), "ignored")
	out, _, err = c.run("apply", "-f", dir)
	if err != nil || out != "job.batch/dir-a created\njob.batch/dir-b created\n" {
		t.Errorf("dir apply: %q %v", out, err)
	}
	// Dry run stores nothing.
	c.stdin = strings.Replace(readFile(t, "../../examples/pi.yaml"), "name: pi", "name: dry", 1)
	out, _, err = c.run("apply", "--dry-run", "-f", "-")
	if err != nil || out != "job.batch/dry created (dry run)\n" || c.srv.Job("default", "dry") != nil {
		t.Errorf("dry run: %q %v", out, err)
	}
}

func TestApplyErrors(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"misspelt field", strings.Replace(readFile(t, "../../examples/pi.yaml"), "restartPolicy", "restartPolicky", 1), nil,
			"spec.template.spec.restartPolicky: unknown field"},
		{"invalid values, all listed", strings.Replace(readFile(t, "../../examples/pi.yaml"), "backoffLimit: 4", "backoffLimit: 4\n  completions: -1\n  parallelism: -2", 1), nil,
			"spec.parallelism: must be >= 0\nerror: spec.completions: must be >= 0"},
		{"Always", strings.Replace(readFile(t, "../../examples/pi.yaml"), "restartPolicy: Never", "restartPolicy: Always", 1), nil,
			`spec.template.spec.restartPolicy: unsupported value "Always": must be Never or OnFailure`},
		{"second document bad: nothing applied", readFile(t, "../../examples/pi.yaml") + "---\n" + strings.Replace(readFile(t, "../../examples/parallel.yaml"), "parallelism: 5", "parallelism: five", 1), nil,
			`document 2: spec.parallelism: expected integer, got string "five"`},
		{"second object invalid: nothing applied", readFile(t, "../../examples/pi.yaml") + "---\n" + strings.Replace(readFile(t, "../../examples/parallel.yaml"), "parallelism: 5", "parallelism: -5", 1), nil,
			"job.batch/parallel (object 2): spec.parallelism: must be >= 0"},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", nil,
			`kind: unknown kind "Deployment" in apiVersion "apps/v1" (supported: apps/v1 DaemonSet, batch/v1 CronJob, batch/v1 Job)`},
		{"empty", "# nothing\n", nil, "no objects found in -"},
		{"namespace mismatch", strings.Replace(readFile(t, "../../examples/pi.yaml"), "name: pi", "name: pi\n  namespace: a", 1), []string{"-n", "b"},
			`the namespace of job "pi" (a) does not match --namespace b`},
	} {
		c.stdin = tc.stdin
		_, _, err := c.run(append([]string{"apply", "-f", "-"}, tc.args...)...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.want)
		}
	}
	if n := c.srv.Calls("CreateJob"); n != 0 {
		t.Errorf("CreateJob called %d times", n)
	}
	if _, _, err := c.run("apply", "-f", "/nonexistent.yaml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := c.run("apply"); err == nil || err.Error() != "-f is required" {
		t.Errorf("no -f: %v", err)
	}
}

func TestMergeJob(t *testing.T) {
	existing := fixtureJob("pi", "default", proto.Int32(1), 1, 0, nil)
	want := &v1.Job{Metadata: &v1.ObjectMeta{Name: "pi"}, Spec: &v1.JobSpec{
		Completions: proto.Int32(4), TtlSecondsAfterFinished: proto.Int32(60), ActiveDeadlineSeconds: proto.Int64(30),
		Template: proto.Clone(existing.Spec.Template).(*v1.PodTemplateSpec),
	}}
	got, changed := mergeJob(existing, want)
	if !changed || got.GetSpec().GetCompletions() != 4 || got.GetSpec().GetTtlSecondsAfterFinished() != 60 || got.GetSpec().GetActiveDeadlineSeconds() != 30 || got.GetSpec().GetBackoffLimit() != 4 {
		t.Errorf("merge = %v, %v", got.GetSpec(), changed)
	}
	if _, changed := mergeJob(got, want); changed {
		t.Error("second merge changed")
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
