package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// health runs `drover health --url http://addr<path>`.
func health(addr, path string) error {
	out, err := exec.Command(droverBin, "health", "--url", "http://"+addr+path, "--timeout", "2s").CombinedOutput()
	if err != nil {
		return fmt.Errorf("drover health %s: %w: %s", path, err, out)
	}
	return nil
}

// `drover hollow` joins three hollow nodes to a real cluster (each with its
// own node, lease and heartbeat, SPEC N1); `drover health` reports them
// ready; a Job completes on them through the fake runtime (J1, J2); their
// /metrics counts the status writes. Health of nothing listening exits 1.
func TestHollowNodesRunJob(t *testing.T) {
	c := newCluster(t)
	metricsAddr := freeAddr(t)
	c.start("hollow", "hollow", "--nodes", "3", "--etcd-endpoints", "http://"+c.etcdAddr,
		"--heartbeat-interval", "1s", "--lease-ttl", "4s", "--fake-duration", "100ms",
		"--metrics-listen", metricsAddr)
	c.eventually("hollow nodes ready (drover health /readyz)", 60*time.Second, func() error { return health(metricsAddr, "/readyz") })
	if err := health(metricsAddr, "/healthz"); err != nil {
		t.Fatal(err)
	}
	out := c.mustCLI("get", "nodes")
	for _, n := range []string{"hollow-1", "hollow-2", "hollow-3"} {
		if !strings.Contains(out, n) {
			t.Fatalf("node %s not listed:\n%s", n, out)
		}
	}

	manifest := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: hollow
spec:
  completions: 9
  parallelism: 3
  template:
    spec:
      containers:
      - name: c
        image: fake
        command: ["true"]
      restartPolicy: Never
`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("apply", "-f", manifest)
	c.mustCLI("wait", "job/hollow", "--for=condition=Complete", "--timeout", "60s")
	out = c.mustCLI("get", "job", "hollow", "-o", "json")
	if !strings.Contains(out, `"succeeded": 9`) {
		t.Fatalf("job status: %s", out)
	}

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Each pod is Running then Succeeded (100 ms): at least 9 writes.
	if !strings.Contains(string(body), "drover_worker_pod_status_writes_total") || strings.Contains(string(body), "drover_worker_pod_status_writes_total 0\n") {
		t.Fatalf("no status writes in /metrics:\n%s", body)
	}

	if err := health(freeAddr(t), "/readyz"); err == nil {
		t.Fatal("drover health succeeded with nothing listening")
	}
}
