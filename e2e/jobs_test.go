package e2e

// Job scenarios of issue 3 against real processes (drover dev --workers 0
// and two drover worker processes): one subtest per scenario, run in
// parallel on one cluster so that the suite's real waits (the 10 s backoff
// and restart delays) overlap.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// jobManifest is a Job whose one container runs script under sh, with
// extra spec lines (indented two spaces) and env DIR set to dir.
func jobManifest(name, spec, restart, dir, script string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
%s  template:
    spec:
      restartPolicy: %s
      terminationGracePeriodSeconds: 5
      containers:
      - name: work
        image: busybox
        env:
        - {name: DIR, value: %q}
        command: ["sh", "-c", %q]
`, name, spec, restart, dir, script)
}

// jtApply writes manifest to a file and applies it with the CLI.
func jtApply(t *testing.T, c *cluster, name, manifest string) {
	t.Helper()
	path := filepath.Join(c.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	jtCLI(t, c, "apply", "-f", path)
}

// jtCLI runs a CLI command, failing t on error.
func jtCLI(t *testing.T, c *cluster, args ...string) string {
	t.Helper()
	out, err := c.cli(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jtEventually polls f until it returns nil, failing t after timeout.
func jtEventually(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jtJob reads a Job from the store (store.ErrNotFound if it is gone).
func jtJob(c *cluster, name string) (*v1.Job, error) {
	return store.New(c.etcd).Jobs().Get(context.Background(), "default", name)
}

// jtPods returns the stored pods of namespace default that match.
func jtPods(t *testing.T, c *cluster, match func(*v1.Pod) bool) []*v1.Pod {
	t.Helper()
	resp, err := c.etcd.Get(context.Background(), "/drover/pods/default/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var out []*v1.Pod
	for _, kv := range resp.Kvs {
		p := &v1.Pod{}
		if err := protojson.Unmarshal(kv.Value, p); err != nil {
			t.Fatal(err)
		}
		if match(p) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metadata.Name < out[j].Metadata.Name })
	return out
}

// labelled matches pods with label k=v.
func labelled(k, v string) func(*v1.Pod) bool {
	return func(p *v1.Pod) bool { return p.GetMetadata().GetLabels()[k] == v }
}

// jtCondition returns a Job's condition of type typ, or nil.
func jtCondition(j *v1.Job, typ string) *v1.JobCondition {
	for _, cd := range j.GetStatus().GetConditions() {
		if cd.GetType() == typ {
			return cd
		}
	}
	return nil
}

// jtWaitCondition waits until the Job has condition typ=True and returns it.
func jtWaitCondition(t *testing.T, c *cluster, name, typ string, timeout time.Duration) *v1.Job {
	t.Helper()
	var job *v1.Job
	jtEventually(t, fmt.Sprintf("job %s %s", name, typ), timeout, func() error {
		j, err := jtJob(c, name)
		if err != nil {
			return err
		}
		if cd := jtCondition(j, typ); cd == nil || cd.GetStatus() != "True" {
			return fmt.Errorf("conditions %v, status %v", j.GetStatus().GetConditions(), j.GetStatus())
		}
		job = j
		return nil
	})
	return job
}

// phases counts pods by phase.
func phases(pods []*v1.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		out[p.GetStatus().GetPhase()]++
	}
	return out
}

// jobEvents returns the reasons of the events recorded for a Job.
func jobEvents(t *testing.T, c *cluster, name string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(jtCLI(t, c, "get", "events"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[3] == "job/"+name {
			out = append(out, f[2])
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jtWaitReady waits until n nodes are Ready.
func jtWaitReady(t *testing.T, c *cluster, n int) {
	t.Helper()
	jtEventually(t, fmt.Sprintf("%d nodes Ready", n), 30*time.Second, func() error {
		out, err := c.cli("get", "nodes")
		if err != nil {
			return err
		}
		if got := strings.Count(out, " Ready"); got != n {
			return fmt.Errorf("%d ready:\n%s", got, out)
		}
		return nil
	})
}

// waitFiles waits until n files match dir/pattern (pods mark themselves up).
func waitFiles(t *testing.T, dir, pattern string, n int) {
	t.Helper()
	jtEventually(t, fmt.Sprintf("%d %s", n, pattern), 60*time.Second, func() error {
		if m, _ := filepath.Glob(filepath.Join(dir, pattern)); len(m) != n {
			return fmt.Errorf("%d of %d", len(m), n)
		}
		return nil
	})
}

// TestJobScenarios runs each Job scenario of issue 3 end to end.
func TestJobScenarios(t *testing.T) {
	c := newCluster(t)
	c.startWorker("w1")
	c.startWorker("w2")
	jtWaitReady(t, c, 2)
	dir := func(t *testing.T) string {
		d := filepath.Join(c.dir, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}

	// J5: each pod fails its first run (a marker file per pod), is
	// restarted in place by its worker (after the 10 s restart delay) and
	// succeeds: no replacement pods, one restart each, nothing failed.
	t.Run("OnFailureRestartsInPlace", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		jtApply(t, c, "onfail", jobManifest("onfail", "  completions: 3\n  parallelism: 3\n", "OnFailure", d,
			`if [ ! -e "$DIR/$HOSTNAME" ]; then touch "$DIR/$HOSTNAME"; echo first; exit 1; fi; echo second`))
		job := jtWaitCondition(t, c, "onfail", "Complete", 90*time.Second)
		if st := job.GetStatus(); st.GetSucceeded() != 3 || st.GetFailed() != 0 {
			t.Errorf("status %v: want succeeded 3, failed 0", st)
		}
		pods := jtPods(t, c, labelled("job-name", "onfail"))
		if len(pods) != 3 {
			t.Fatalf("%d pods, want 3 (restarted in place, not replaced)", len(pods))
		}
		for _, p := range pods {
			cs := p.GetStatus().GetContainerStatuses()
			if p.GetStatus().GetPhase() != "Succeeded" || len(cs) != 1 || cs[0].GetRestartCount() != 1 {
				t.Errorf("pod %s: phase %s, container statuses %v; want Succeeded after 1 restart", p.Metadata.Name, p.GetStatus().GetPhase(), cs)
			}
			if got := cs[0].GetLastState().GetTerminated().GetExitCode(); got != 1 {
				t.Errorf("pod %s: last state exit code %d, want 1", p.Metadata.Name, got)
			}
		}
	})

	// J5, J6: with restartPolicy Never the first pod to start fails (an
	// atomic mkdir picks it); it stays Failed and, after the 10 s backoff,
	// a new pod replaces it.
	t.Run("NeverReplacesFailedPod", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		jtApply(t, c, "never", jobManifest("never", "  completions: 3\n  parallelism: 3\n", "Never", d,
			`if mkdir "$DIR/lock" 2>/dev/null; then echo failing; exit 3; fi; echo ok`))
		job := jtWaitCondition(t, c, "never", "Complete", 90*time.Second)
		if st := job.GetStatus(); st.GetSucceeded() != 3 || st.GetFailed() != 1 {
			t.Errorf("status %v: want succeeded 3, failed 1", st)
		}
		pods := jtPods(t, c, labelled("job-name", "never"))
		if ph := phases(pods); len(pods) != 4 || ph["Succeeded"] != 3 || ph["Failed"] != 1 {
			t.Errorf("pods by phase %v, want 3 Succeeded and 1 Failed", ph)
		}
		for _, p := range pods {
			if n := p.GetStatus().GetContainerStatuses()[0].GetRestartCount(); n != 0 {
				t.Errorf("pod %s restarted %d times with restartPolicy Never", p.Metadata.Name, n)
			}
		}
	})

	// J6, J17: backoffLimit 0 and a failing pod: the Job fails at once
	// with BackoffLimitExceeded, recorded as an event.
	t.Run("BackoffLimitExceeded", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		jtApply(t, c, "limit", jobManifest("limit", "  backoffLimit: 0\n", "Never", d, `exit 1`))
		job := jtWaitCondition(t, c, "limit", "Failed", 60*time.Second)
		if cd := jtCondition(job, "Failed"); cd.GetReason() != "BackoffLimitExceeded" {
			t.Errorf("Failed reason %q, want BackoffLimitExceeded", cd.GetReason())
		}
		if st := job.GetStatus(); st.GetFailed() != 1 || st.GetSucceeded() != 0 || st.GetActive() != 0 {
			t.Errorf("status %v: want failed 1", st)
		}
		if pods := jtPods(t, c, labelled("job-name", "limit")); len(pods) != 1 {
			t.Errorf("%d pods, want 1 (no retry past the limit)", len(pods))
		}
		jtEventually(t, "BackoffLimitExceeded event", 10*time.Second, func() error {
			if ev := jobEvents(t, c, "limit"); !contains(ev, "BackoffLimitExceeded") {
				return fmt.Errorf("events %v", ev)
			}
			return nil
		})
	})

	// J7: activeDeadlineSeconds 2 on pods that would run a minute: the Job
	// fails with DeadlineExceeded and its pods are stopped.
	t.Run("DeadlineExceeded", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		jtApply(t, c, "deadline", jobManifest("deadline", "  parallelism: 2\n  completions: 2\n  activeDeadlineSeconds: 2\n", "Never", d, `sleep 60`))
		job := jtWaitCondition(t, c, "deadline", "Failed", 60*time.Second)
		if cd := jtCondition(job, "Failed"); cd.GetReason() != "DeadlineExceeded" {
			t.Errorf("Failed reason %q, want DeadlineExceeded", cd.GetReason())
		}
		if el := jtCondition(job, "Failed").GetLastTransitionTime().AsTime().Sub(job.GetStatus().GetStartTime().AsTime()); el < 2*time.Second {
			t.Errorf("failed %v after start, before the 2 s deadline", el)
		}
		jtEventually(t, "pods stopped", 30*time.Second, func() error {
			pods := jtPods(t, c, labelled("job-name", "deadline"))
			if ph := phases(pods); ph["Running"]+ph["Pending"] > 0 {
				return fmt.Errorf("pods by phase %v", ph)
			}
			return nil
		})
	})

	// J9, J17: suspending a running Job stops its pods with SIGTERM (they
	// record it) without counting them as failed, and sets Suspended=True;
	// resuming sets it False, resets startTime and creates pods again,
	// which complete the Job. Both transitions are recorded as events.
	t.Run("SuspendThenResume", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		jtApply(t, c, "susp", jobManifest("susp", "  completions: 2\n  parallelism: 2\n", "Never", d,
			`[ -e "$DIR/resumed" ] && exit 0; trap 'echo term > "$DIR/term.$HOSTNAME"; exit 143' TERM; touch "$DIR/up.$HOSTNAME"; while true; do sleep 0.1; done`))
		waitFiles(t, d, "up.*", 2)
		before, err := jtJob(c, "susp")
		if err != nil {
			t.Fatal(err)
		}
		if out := jtCLI(t, c, "suspend", "job", "susp"); !strings.Contains(out, "suspended") {
			t.Fatalf("suspend printed %q", out)
		}
		jtWaitCondition(t, c, "susp", "Suspended", 30*time.Second)
		// Stopped pods are counted (as nothing) and then deleted.
		jtEventually(t, "pods stopped", 30*time.Second, func() error {
			if pods := jtPods(t, c, labelled("job-name", "susp")); len(pods) != 0 {
				return fmt.Errorf("pods by phase %v", phases(pods))
			}
			j, err := jtJob(c, "susp")
			if err != nil {
				return err
			}
			if st := j.GetStatus(); st.GetActive() != 0 || st.GetTerminating() != 0 {
				return fmt.Errorf("active %d terminating %d", st.GetActive(), st.GetTerminating())
			}
			return nil
		})
		if m, _ := filepath.Glob(filepath.Join(d, "term.*")); len(m) != 2 {
			t.Errorf("%d pods saw SIGTERM, want 2 (graceful stop)", len(m))
		}
		if j, _ := jtJob(c, "susp"); j.GetStatus().GetFailed() != 0 {
			t.Errorf("failed %d after suspension, want 0 (J9)", j.GetStatus().GetFailed())
		}
		if err := os.WriteFile(filepath.Join(d, "resumed"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if out := jtCLI(t, c, "resume", "job", "susp"); !strings.Contains(out, "resumed") {
			t.Fatalf("resume printed %q", out)
		}
		job := jtWaitCondition(t, c, "susp", "Complete", 60*time.Second)
		if cd := jtCondition(job, "Suspended"); cd == nil || cd.GetStatus() != "False" {
			t.Errorf("Suspended condition %v after resume, want False", cd)
		}
		if !job.GetStatus().GetStartTime().AsTime().After(before.GetStatus().GetStartTime().AsTime()) {
			t.Errorf("startTime %v not reset by the resume (was %v)", job.GetStatus().GetStartTime().AsTime(), before.GetStatus().GetStartTime().AsTime())
		}
		if st := job.GetStatus(); st.GetSucceeded() != 2 || st.GetFailed() != 0 {
			t.Errorf("status %v: want succeeded 2, failed 0", st)
		}
		jtEventually(t, "Suspended and Resumed events", 10*time.Second, func() error {
			ev := jobEvents(t, c, "susp")
			if !contains(ev, "Suspended") || !contains(ev, "Resumed") {
				return fmt.Errorf("events %v", ev)
			}
			return nil
		})
	})

	// J4: an Indexed Job's pods print their index and hostname; the logs
	// hold every index 0..n-1 exactly once, with hostname <job>-<index>.
	t.Run("IndexedPrintsEachIndexOnce", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		const n = 5
		jtApply(t, c, "idx", jobManifest("idx", fmt.Sprintf("  completions: %d\n  parallelism: 3\n  completionMode: Indexed\n", n), "Never", d,
			`echo "index=$JOB_COMPLETION_INDEX host=$HOSTNAME"`))
		job := jtWaitCondition(t, c, "idx", "Complete", 60*time.Second)
		if st := job.GetStatus(); st.GetSucceeded() != n || st.GetCompletedIndexes() != fmt.Sprintf("0-%d", n-1) {
			t.Errorf("status %v: want succeeded %d, completedIndexes 0-%d", st, n, n-1)
		}
		seen := map[string]int{}
		for _, p := range jtPods(t, c, labelled("job-name", "idx")) {
			out := strings.TrimSpace(jtCLI(t, c, "logs", p.Metadata.Name))
			ix := p.Metadata.Annotations["batch.kubernetes.io/job-completion-index"]
			if want := fmt.Sprintf("index=%s host=idx-%s", ix, ix); out != want {
				t.Errorf("pod %s logs %q, want %q", p.Metadata.Name, out, want)
			}
			seen[ix]++
		}
		for i := 0; i < n; i++ {
			if seen[fmt.Sprint(i)] != 1 {
				t.Errorf("index %d printed %d times, want once", i, seen[fmt.Sprint(i)])
			}
		}
		if len(seen) != n {
			t.Errorf("indexes %v, want 0..%d", seen, n-1)
		}
	})

	// J3: a work queue (completions unset, parallelism 3): the pods take
	// items from a shared queue (mv is atomic) until it is empty; once one
	// has succeeded no new pod starts, and the Job completes when all have
	// finished. Every item is taken exactly once.
	t.Run("WorkQueue", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		q := filepath.Join(d, "queue")
		if err := os.MkdirAll(q, 0o755); err != nil {
			t.Fatal(err)
		}
		const items = 12
		for i := 0; i < items; i++ {
			if err := os.WriteFile(filepath.Join(q, fmt.Sprintf("item%02d", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		jtApply(t, c, "queue", jobManifest("queue", "  parallelism: 3\n", "Never", d,
			`mkdir -p "$DIR/done"; for f in "$DIR"/queue/item*; do [ -e "$f" ] || continue; b=$(basename "$f"); mv "$f" "$DIR/done/$b.$HOSTNAME" 2>/dev/null && sleep 0.1; done; echo empty`))
		job := jtWaitCondition(t, c, "queue", "Complete", 60*time.Second)
		pods := jtPods(t, c, labelled("job-name", "queue"))
		if st := job.GetStatus(); st.GetSucceeded() < 1 || int(st.GetSucceeded()) != len(pods) || st.GetActive() != 0 {
			t.Errorf("status %v with %d pods: want every pod succeeded, none active", st, len(pods))
		}
		if len(pods) > 3 {
			t.Errorf("%d pods, want at most parallelism 3 (no new pod after a success)", len(pods))
		}
		done, _ := os.ReadDir(filepath.Join(d, "done"))
		taken := map[string]int{}
		for _, e := range done {
			taken[strings.SplitN(e.Name(), ".", 2)[0]]++
		}
		for i := 0; i < items; i++ {
			if k := fmt.Sprintf("item%02d", i); taken[k] != 1 {
				t.Errorf("%s taken %d times, want once", k, taken[k])
			}
		}
	})

	// J12, J14: deleting a Job with --cascade=orphan leaves its pods
	// running and unowned; a new Job with a manual selector matching them
	// adopts them (no new pods: they fill its parallelism) and counts them
	// when they finish.
	t.Run("OrphanThenAdopt", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		script := `touch "$DIR/up.$HOSTNAME"; while [ ! -e "$DIR/release" ]; do sleep 0.1; done; echo done`
		jtApply(t, c, "old", jobManifest("old", "  completions: 2\n  parallelism: 2\n", "Never", d, script))
		waitFiles(t, d, "up.*", 2)
		old, err := jtJob(c, "old")
		if err != nil {
			t.Fatal(err)
		}
		uid := old.Metadata.Uid
		if out := jtCLI(t, c, "delete", "job", "old", "--cascade=orphan"); !strings.Contains(out, "deleted") {
			t.Fatalf("delete printed %q", out)
		}
		byUID := labelled("controller-uid", uid)
		jtEventually(t, "old Job gone, pods orphaned", 30*time.Second, func() error {
			if _, err := jtJob(c, "old"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("old job: %v", err)
			}
			for _, p := range jtPods(t, c, byUID) {
				if len(p.Metadata.OwnerReferences) != 0 || len(p.Metadata.Finalizers) != 0 {
					return fmt.Errorf("pod %s owners %v finalizers %v", p.Metadata.Name, p.Metadata.OwnerReferences, p.Metadata.Finalizers)
				}
			}
			return nil
		})
		time.Sleep(500 * time.Millisecond) // the garbage collector would act now, if it were to
		orphans := jtPods(t, c, byUID)
		if ph := phases(orphans); len(orphans) != 2 || ph["Running"] != 2 {
			t.Fatalf("orphans by phase %v, want 2 Running", ph)
		}

		adopter := strings.Replace(jobManifest("new", fmt.Sprintf("  completions: 2\n  parallelism: 2\n  manualSelector: true\n  selector:\n    matchLabels: {controller-uid: %s}\n", uid), "Never", d, script),
			"  template:\n    spec:\n", fmt.Sprintf("  template:\n    metadata:\n      labels: {controller-uid: %s}\n    spec:\n", uid), 1)
		jtApply(t, c, "new", adopter)
		nj, err := jtJob(c, "new")
		if err != nil {
			t.Fatal(err)
		}
		jtEventually(t, "orphans adopted", 30*time.Second, func() error {
			for _, p := range jtPods(t, c, byUID) {
				refs := p.Metadata.OwnerReferences
				if len(refs) != 1 || refs[0].GetUid() != nj.Metadata.Uid || !refs[0].GetController() {
					return fmt.Errorf("pod %s owners %v", p.Metadata.Name, refs)
				}
			}
			j, err := jtJob(c, "new")
			if err != nil {
				return err
			}
			if j.GetStatus().GetActive() != 2 {
				return fmt.Errorf("new job active %d", j.GetStatus().GetActive())
			}
			return nil
		})
		if err := os.WriteFile(filepath.Join(d, "release"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		job := jtWaitCondition(t, c, "new", "Complete", 60*time.Second)
		if st := job.GetStatus(); st.GetSucceeded() != 2 || st.GetFailed() != 0 {
			t.Errorf("status %v: want succeeded 2 (the adopted pods), failed 0", st)
		}
		pods := jtPods(t, c, byUID)
		if len(pods) != 2 || pods[0].Metadata.Name != orphans[0].Metadata.Name || pods[1].Metadata.Name != orphans[1].Metadata.Name {
			t.Errorf("pods %d, want exactly the 2 adopted ones", len(pods))
		}
		if m, _ := filepath.Glob(filepath.Join(d, "up.*")); len(m) != 2 {
			t.Errorf("%d pods started, want 2 (the adopter created none)", len(m))
		}
	})

	// J8: ttlSecondsAfterFinished 0 deletes the Job and its pods as soon
	// as it completes.
	t.Run("TTLAfterFinished", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		jtApply(t, c, "ttl", jobManifest("ttl", "  ttlSecondsAfterFinished: 0\n", "Never", d, `touch "$DIR/ran"`))
		jtEventually(t, "job and pods deleted", 60*time.Second, func() error {
			if _, err := jtJob(c, "ttl"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("job: %v", err)
			}
			if pods := jtPods(t, c, labelled("job-name", "ttl")); len(pods) != 0 {
				return fmt.Errorf("%d pods left", len(pods))
			}
			return nil
		})
		if _, err := os.Stat(filepath.Join(d, "ran")); err != nil {
			t.Errorf("the pod never ran: %v", err)
		}
	})

	// J12: delete --cascade=foreground stops and deletes the pods, then
	// the Job.
	t.Run("ForegroundDelete", func(t *testing.T) {
		t.Parallel()
		d := dir(t)
		jtApply(t, c, "fg", jobManifest("fg", "  completions: 2\n  parallelism: 2\n", "Never", d,
			`touch "$DIR/up.$HOSTNAME"; exec sleep 60`))
		waitFiles(t, d, "up.*", 2)
		jtCLI(t, c, "delete", "job", "fg", "--cascade=foreground")
		jtEventually(t, "pods then job deleted", 60*time.Second, func() error {
			// Read the Job first: pods still there after it is gone would
			// break foreground order (the other way round, a deletion of the
			// pods and then the Job between the two reads looks the same).
			_, err := jtJob(c, "fg")
			pods := jtPods(t, c, labelled("job-name", "fg"))
			switch {
			case len(pods) > 0 && errors.Is(err, store.ErrNotFound):
				t.Fatalf("the Job is gone before its %d pods (foreground)", len(pods))
			case len(pods) > 0 || err == nil:
				return fmt.Errorf("%d pods, job: %v", len(pods), err)
			}
			return nil
		})
	})
}
