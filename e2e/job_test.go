package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

const parallelJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: par
spec:
  completions: 20
  parallelism: 5
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
        command: ["sh", "-c", "sleep 0.3; echo done on $HOSTNAME"]
`

// TestParallelJobOnThreeWorkers is the end-to-end path of issue 2 (SPEC J1,
// J2, J10, P2, P3, O3): a Job with completions 20 and parallelism 5 on three
// separate worker processes ends with succeeded 20 and Complete=True, and a
// watch of every pod write (in etcd revision order) never sees more than 5
// pods active at once.
func TestParallelJobOnThreeWorkers(t *testing.T) {
	c := newCluster(t)
	for i := 1; i <= 3; i++ {
		c.startWorker(fmt.Sprintf("w%d", i))
	}
	c.eventually("3 nodes Ready", 30*time.Second, func() error {
		out, err := c.cli("get", "nodes")
		if err != nil {
			return err
		}
		if n := len(regexp.MustCompile(`(?m)^w\d\s+Ready\b`).FindAllString(out, -1)); n != 3 {
			return fmt.Errorf("%d ready nodes:\n%s", n, out)
		}
		return nil
	})

	// Observe every pod write from now on, in revision order.
	start, err := c.etcd.Get(context.Background(), "/drover/")
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	peak := make(chan int, 1)
	go func() {
		active := map[string]bool{}
		max := 0
		for resp := range c.etcd.Watch(wctx, "/drover/pods/", clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1)) {
			for _, ev := range resp.Events {
				k := string(ev.Kv.Key)
				if ev.Type == clientv3.EventTypeDelete {
					delete(active, k)
					continue
				}
				var p v1.Pod
				if protojson.Unmarshal(ev.Kv.Value, &p) != nil {
					continue
				}
				ph := p.GetStatus().GetPhase()
				active[k] = ph != "Succeeded" && ph != "Failed"
				n := 0
				for _, a := range active {
					if a {
						n++
					}
				}
				max = maxInt(max, n)
			}
		}
		peak <- max
	}()

	manifest := filepath.Join(c.dir, "par.yaml")
	if err := os.WriteFile(manifest, []byte(parallelJob), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := c.mustCLI("apply", "-f", manifest); !strings.Contains(out, "par") {
		t.Fatalf("apply printed %q", out)
	}
	c.mustCLI("wait", "job/par", "--for=condition=Complete", "--timeout", "90s")
	stopWatch()

	var job v1.Job
	if err := protojson.Unmarshal([]byte(c.mustCLI("get", "job", "par", "-o", "json")), &job); err != nil {
		t.Fatal(err)
	}
	if job.Status.GetSucceeded() != 20 || job.Status.GetFailed() != 0 || job.Status.GetActive() != 0 {
		t.Fatalf("status %v: want succeeded 20, failed 0, active 0", job.Status)
	}
	if m := <-peak; m > 5 {
		t.Fatalf("saw %d pods active at once, parallelism is 5", m)
	} else if m < 2 {
		t.Fatalf("peak of %d active pods: the Job did not run in parallel", m)
	}

	// Pods: 20, all Succeeded, spread over the workers, logs readable (P3).
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(c.mustCLI("get", "pods", "-l", "job-name=par", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 20 {
		t.Fatalf("%d pods, want 20", len(list.Items))
	}
	nodes := map[string]bool{}
	var first *v1.Pod
	for i, raw := range list.Items {
		p := &v1.Pod{}
		if err := protojson.Unmarshal(raw, p); err != nil {
			t.Fatal(err)
		}
		if p.Status.GetPhase() != "Succeeded" || p.Status.ContainerStatuses[0].GetState().GetTerminated().GetExitCode() != 0 {
			t.Fatalf("pod %s: phase %s", p.Metadata.Name, p.Status.GetPhase())
		}
		nodes[p.Spec.NodeName] = true
		if i == 0 {
			first = p
		}
	}
	if len(nodes) < 2 {
		t.Fatalf("pods ran on %v only", nodes)
	}
	if out := c.mustCLI("logs", first.Metadata.Name); strings.TrimSpace(out) != "done on "+first.Metadata.Name {
		t.Fatalf("logs of %s: %q", first.Metadata.Name, out)
	}

	// The store is readable JSON under /drover/ (O3).
	raw, err := c.etcd.Get(context.Background(), "/drover/jobs/default/par")
	if err != nil || len(raw.Kvs) != 1 || !json.Valid(raw.Kvs[0].Value) {
		t.Fatalf("stored job: %v", err)
	}
}

// TestDevRestartKeepsObjects: Ctrl-C on drover dev, then a start on the same
// data dir, keeps every object (issue 2).
func TestDevRestartKeepsObjects(t *testing.T) {
	c := newCluster(t)
	manifest := filepath.Join(c.dir, "keep.yaml")
	if err := os.WriteFile(manifest, []byte(strings.ReplaceAll(parallelJob, "name: par", "name: keep")), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("apply", "-f", manifest)
	before := c.mustCLI("get", "job", "keep", "-o", "json")
	var dev *proc
	for _, p := range c.procs {
		if p.name == "dev" {
			dev = p
		}
	}
	dev.stop(t)
	c.startDev()
	after := c.mustCLI("get", "job", "keep", "-o", "json")
	var a, b v1.Job
	if err := protojson.Unmarshal([]byte(before), &a); err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal([]byte(after), &b); err != nil {
		t.Fatal(err)
	}
	if a.Metadata.Uid == "" || a.Metadata.Uid != b.Metadata.Uid {
		t.Fatalf("job uid %q before restart, %q after", a.Metadata.Uid, b.Metadata.Uid)
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
