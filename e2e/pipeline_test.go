package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pipelineManifest is examples/pipeline.yaml with its shared directory
// moved into dir; fail makes transform-sum exit 1.
func pipelineManifest(t *testing.T, dir string, fail bool) string {
	t.Helper()
	b, err := os.ReadFile("../examples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := strings.ReplaceAll(string(b), "/tmp/drover-pipeline", dir)
	if fail {
		m = strings.Replace(m, `echo "sum $s" > $D/sum.txt`, `exit 1`, 1)
		if !strings.Contains(m, "exit 1") {
			t.Fatal("could not make transform-sum fail")
		}
	}
	return m
}

// stamp reads a <stage>.start or .end file (nanoseconds since the epoch).
func stamp(t *testing.T, dir, name string) time.Time {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return time.Unix(0, ns)
}

// TestPipelineRunsInOrder (SPEC J18): examples/pipeline.yaml on two workers.
// From the times the pods record, each stage's pod starts after the pods
// of the Jobs it depends on ended; the report has both transforms' output.
// Before fetch completes, the report waits (STATUS Waiting in get jobs,
// the Waiting condition naming what it waits for).
func TestPipelineRunsInOrder(t *testing.T) {
	c := newCluster(t)
	c.startWorker("w1")
	c.startWorker("w2")
	dir := filepath.Join(c.dir, "pipeline")
	path := filepath.Join(c.dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(pipelineManifest(t, dir, false)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("apply", "-f", path)
	c.eventually("report waiting", 20*time.Second, func() error {
		out := c.mustCLI("get", "jobs")
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "report ") && strings.Contains(l, "Waiting") {
				return nil
			}
		}
		return fmt.Errorf("%s", out)
	})
	if out := c.mustCLI("describe", "job", "report"); !strings.Contains(out, "Depends On:") || !strings.Contains(out, "WaitingForDependencies") {
		t.Fatalf("describe report:\n%s", out)
	}
	c.mustCLI("wait", "job/report", "--for=condition=Complete", "--timeout=60s")
	fetchEnd := stamp(t, dir, "fetch.end")
	for _, s := range []string{"transform-sum", "transform-count"} {
		if st := stamp(t, dir, s+".start"); !st.After(fetchEnd) {
			t.Errorf("%s started %v before fetch ended", s, fetchEnd.Sub(st))
		}
	}
	last := stamp(t, dir, "transform-sum.end")
	if e := stamp(t, dir, "transform-count.end"); e.After(last) {
		last = e
	}
	if st := stamp(t, dir, "report.start"); !st.After(last) {
		t.Errorf("report started %v before the transforms ended", last.Sub(st))
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil || string(report) != "sum 5050\ncount 100\n" {
		t.Fatalf("report %q: %v", report, err)
	}
	t.Logf("stages: fetch ended %v; transforms started +%v, +%v; report started %v after the last transform ended",
		fetchEnd.Format(time.StampMilli), stamp(t, dir, "transform-sum.start").Sub(fetchEnd).Round(time.Millisecond),
		stamp(t, dir, "transform-count.start").Sub(fetchEnd).Round(time.Millisecond), stamp(t, dir, "report.start").Sub(last).Round(time.Millisecond))
}

// TestPipelineFailedStage (SPEC J18): transform-sum fails, so report fails
// with reason DependencyFailed and none of its pods ever starts; the
// independent transform-count still completes.
func TestPipelineFailedStage(t *testing.T) {
	c := newCluster(t)
	c.startWorker("w1")
	dir := filepath.Join(c.dir, "pipeline")
	path := filepath.Join(c.dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(pipelineManifest(t, dir, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("apply", "-f", path)
	c.mustCLI("wait", "job/report", "--for=condition=Failed", "--timeout=60s")
	j := c.job("report")
	reason := ""
	for _, co := range j.GetStatus().GetConditions() {
		if co.GetType() == "Failed" {
			reason = co.GetReason()
		}
	}
	if reason != "DependencyFailed" {
		t.Fatalf("report failed with %q: %v", reason, j.GetStatus())
	}
	c.mustCLI("wait", "job/transform-count", "--for=condition=Complete", "--timeout=60s")
	if pods := c.pods("report"); len(pods) != 0 {
		t.Fatalf("report has %d pods", len(pods))
	}
	if _, err := os.Stat(filepath.Join(dir, "report.start")); !os.IsNotExist(err) {
		t.Fatalf("a report pod ran: %v", err)
	}
	if out := c.mustCLI("get", "jobs"); !strings.Contains(out, "report") || !strings.Contains(out, "Failed") {
		t.Fatalf("get jobs:\n%s", out)
	}
}
