package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// The CronJob e2e tests run the controllers with the --cron-minute=1s test
// hook: a schedule minute lasts one second, so "* * * * *" runs every
// second and Jobs are named <cronjob>-<unix seconds>. The code path is the
// production one.

func cronJobManifest(name, schedule, policy, command string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata:
  name: %s
spec:
  schedule: "%s"
  concurrencyPolicy: %s
  successfulJobsHistoryLimit: 100
  failedJobsHistoryLimit: 100
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: run
            image: busybox
            command: ["sh", "-c", %q]
`, name, schedule, policy, command)
}

// cronJobs returns the Jobs the CronJob owns, by name.
func (c *cluster) cronJobs(cj string) map[string]*v1.Job {
	c.t.Helper()
	jobs, _, err := store.New(c.etcd).Jobs().List(context.Background(), "default")
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]*v1.Job{}
	for _, j := range jobs {
		for _, r := range j.GetMetadata().GetOwnerReferences() {
			if r.GetKind() == "CronJob" && r.GetName() == cj {
				out[j.GetMetadata().GetName()] = j
			}
		}
	}
	return out
}

// maxActive follows the CronJob's status with a watch and reports the
// largest status.active it saw, until stop is called.
func (c *cluster) maxActive(cj string) (stop func() int) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	most := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for resp := range c.etcd.Watch(ctx, "/drover/cronjobs/default/"+cj) {
			for _, ev := range resp.Events {
				o := &v1.CronJob{}
				if ev.Type == clientv3.EventTypePut && protojson.Unmarshal(ev.Kv.Value, o) == nil {
					mu.Lock()
					most = max(most, len(o.GetStatus().GetActive()))
					mu.Unlock()
				}
			}
		}
	}()
	return func() int {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return most
	}
}

func (c *cluster) events(reason string) []string {
	c.t.Helper()
	evs, _, err := store.New(c.etcd).Events().List(context.Background(), "default")
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.GetReason() == reason {
			out = append(out, e.GetInvolvedObject().GetName()+": "+e.GetMessage())
		}
	}
	return out
}

// TestCronJobScaledRuns (SPEC C1, C2, C4, C6): an every-minute CronJob
// observed for several runs (one Job per schedule time, named by it, with
// the scheduled-timestamp annotation, NEXT RUN in get); Forbid skips runs
// while one is active (never two active, JobAlreadyActive events); Replace
// deletes the active run and starts the new one; suspend stops new runs.
func TestCronJobScaledRuns(t *testing.T) {
	c, _ := newHACluster(t, 1, "3s", "--cron-minute", "1s")
	c.startWorker("w1")
	c.waitNodesReady("w1")

	// C1: a zone prefix in the schedule is refused, naming the field.
	bad := cronJobManifest("bad", "CRON_TZ=UTC * * * * *", "Allow", "true")
	path := c.dir + "/bad.yaml"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cli("apply", "-f", path); err == nil || !strings.Contains(err.Error(), "spec.schedule") || !strings.Contains(err.Error(), "time zone prefix") {
		t.Fatalf("CRON_TZ prefix: %v", err)
	}

	c.apply("tick", cronJobManifest("tick", "* * * * *", "Allow", "echo tick"))
	c.eventually("4 runs", 20*time.Second, func() error {
		if n := len(c.cronJobs("tick")); n < 4 {
			return fmt.Errorf("%d runs", n)
		}
		return nil
	})
	c.mustCLI("suspend", "cronjob", "tick")
	time.Sleep(500 * time.Millisecond)
	runs := c.cronJobs("tick")
	var secs []int64
	for name, j := range runs {
		var s int64
		if _, err := fmt.Sscanf(name, "tick-%d", &s); err != nil {
			t.Fatalf("job name %q", name)
		}
		want := time.Unix(s, 0).UTC().Format(time.RFC3339)
		if got := j.GetMetadata().GetAnnotations()["batch.kubernetes.io/cronjob-scheduled-timestamp"]; got != want {
			t.Errorf("%s: scheduled %q, want %q", name, got, want)
		}
		secs = append(secs, s)
	}
	sort.Slice(secs, func(a, b int) bool { return secs[a] < secs[b] })
	t.Logf("tick runs at %v", secs)
	time.Sleep(2 * time.Second)
	if after := len(c.cronJobs("tick")); after != len(runs) {
		t.Errorf("suspended cronjob made %d more runs", after-len(runs))
	}
	out := c.mustCLI("get", "cronjobs")
	if !strings.Contains(out, "NEXT RUN") || !strings.Contains(out, "<suspended>") {
		t.Errorf("get cronjobs:\n%s", out)
	}
	c.mustCLI("create", "job", "tick-manual", "--from", "cronjob/tick")
	c.mustCLI("wait", "job/tick-manual", "--for=condition=Complete", "--timeout=30s")
	c.mustCLI("delete", "cronjob", "tick")

	// C4 Forbid: runs take 2.5 s, the schedule fires every second.
	stopForbid := c.maxActive("forbid")
	began := time.Now()
	c.apply("forbid", cronJobManifest("forbid", "* * * * *", "Forbid", "sleep 2.5"))
	c.eventually("3 forbid runs", 30*time.Second, func() error {
		if n := len(c.cronJobs("forbid")); n < 3 {
			return fmt.Errorf("%d runs", n)
		}
		return nil
	})
	c.mustCLI("suspend", "cronjob", "forbid")
	elapsed := time.Since(began)
	n := len(c.cronJobs("forbid"))
	most := stopForbid()
	skipped := c.events("JobAlreadyActive")
	t.Logf("forbid: %d runs in %v, at most %d active, %d JobAlreadyActive events", n, elapsed.Round(100*time.Millisecond), most, len(skipped))
	if most != 1 {
		t.Errorf("Forbid: %d runs active at once", most)
	}
	if len(skipped) == 0 || float64(n) > elapsed.Seconds()/2 {
		t.Errorf("Forbid skipped nothing: %d runs in %v, events %v", n, elapsed, skipped)
	}
	c.mustCLI("delete", "cronjob", "forbid")

	// C4 Replace: runs never end on their own; each schedule time replaces
	// the running one.
	stopReplace := c.maxActive("replace")
	seen := map[string]bool{}
	c.apply("replace", cronJobManifest("replace", "* * * * *", "Replace", "exec sleep 100"))
	c.eventually("4 replace runs", 30*time.Second, func() error {
		for name := range c.cronJobs("replace") {
			seen[name] = true
		}
		if len(seen) < 4 {
			return fmt.Errorf("%d runs", len(seen))
		}
		return nil
	})
	c.mustCLI("suspend", "cronjob", "replace")
	if most := stopReplace(); most != 1 {
		t.Errorf("Replace: %d runs active at once", most)
	}
	c.eventually("only the newest run left", 10*time.Second, func() error {
		if left := c.cronJobs("replace"); len(left) != 1 {
			return fmt.Errorf("%d jobs left", len(left))
		}
		return nil
	})
	if len(c.events("SuccessfulDelete")) == 0 {
		t.Error("no SuccessfulDelete events for replaced runs")
	}
}

// TestCronJobLeaderKilledBeforeScheduledTime (SPEC C2, L2): two controller
// replicas; the leader is killed 300 ms before a schedule time of an
// every-5-minutes CronJob (5 s with the test hook). The next leader
// creates the Job for that time, and exactly one Job exists for each
// schedule time.
func TestCronJobLeaderKilledBeforeScheduledTime(t *testing.T) {
	c, _ := newHACluster(t, 2, "2s", "--cron-minute", "1s")
	c.startWorker("w1")
	c.waitNodesReady("w1")
	c.apply("ten", cronJobManifest("ten", "*/5 * * * *", "Allow", "echo ten"))
	c.eventually("a first run", 30*time.Second, func() error {
		if len(c.cronJobs("ten")) == 0 {
			return fmt.Errorf("no run")
		}
		return nil
	})
	next := time.Now().Truncate(5 * time.Second).Add(5 * time.Second)
	if time.Until(next) < time.Second {
		next = next.Add(5 * time.Second)
	}
	time.Sleep(time.Until(next.Add(-300 * time.Millisecond)))
	old, _ := c.leader()
	p := c.proc(old)
	if p == nil {
		t.Fatalf("leader %q is not one of ours", old)
	}
	p.signal(syscall.SIGKILL)
	killed := time.Now()
	want := fmt.Sprintf("ten-%d", next.Unix())
	c.eventually("the run at "+next.Format(time.TimeOnly), 20*time.Second, func() error {
		if c.cronJobs("ten")[want] == nil {
			return fmt.Errorf("no %s; jobs %v", want, keys(c.cronJobs("ten")))
		}
		return nil
	})
	now, _ := c.leader()
	created := c.cronJobs("ten")[want].GetMetadata().GetCreationTimestamp().AsTime()
	t.Logf("leader %s killed %v before %s; %s created %s %v after the schedule time",
		old, next.Sub(killed).Round(time.Millisecond), next.Format(time.TimeOnly), now, want, created.Sub(next).Round(time.Millisecond))
	if now == old {
		t.Fatalf("leader still %s", old)
	}
	// One more schedule time under the new leader, then check every run.
	c.eventually("the following run", 20*time.Second, func() error {
		if c.cronJobs("ten")[fmt.Sprintf("ten-%d", next.Unix()+5)] == nil {
			return fmt.Errorf("jobs %v", keys(c.cronJobs("ten")))
		}
		return nil
	})
	perTime := map[string]int{}
	for name, j := range c.cronJobs("ten") {
		var s int64
		if _, err := fmt.Sscanf(name, "ten-%d", &s); err != nil || s%5 != 0 {
			t.Errorf("job %s is not named by a schedule time", name)
		}
		perTime[j.GetMetadata().GetAnnotations()["batch.kubernetes.io/cronjob-scheduled-timestamp"]]++
	}
	for ts, n := range perTime {
		if n != 1 {
			t.Errorf("%d jobs for schedule time %s", n, ts)
		}
	}
	if perTime[next.UTC().Format(time.RFC3339)] != 1 {
		t.Errorf("no job for the schedule time at the kill: %v", perTime)
	}
}

func keys[T any](m map[string]T) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
