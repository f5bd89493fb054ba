package main

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func TestDelete(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	for _, tc := range []struct {
		args []string
		out  string
		err  string
	}{
		{[]string{"delete", "job", "pi"}, "job.batch \"pi\" deleted\n", ""},
		{[]string{"delete", "job/parallel", "pod/queue-a1", "--cascade=orphan"}, "job.batch \"parallel\" deleted\npod \"queue-a1\" deleted\n", ""},
		{[]string{"delete", "node", "worker-2"}, "node \"worker-2\" deleted\n", ""},
		{[]string{"delete", "job", "pi"}, "", `jobs.batch "pi" not found`},
		{[]string{"delete", "job", "x", "--cascade=sometimes"}, "", `--cascade must be background, foreground or orphan, not "sometimes"`},
		{[]string{"delete", "jobs"}, "", "name the jobs.batch to delete"},
		{[]string{"delete", "-f", "../../examples/pi.yaml"}, "", `jobs.batch "pi" not found`},
	} {
		out, _, err := c.run(tc.args...)
		if out != tc.out || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%v: %q, %v; want %q, %s", tc.args, out, err, tc.out, tc.err)
		}
	}
	if c.srv.Job("default", "pi") != nil || c.srv.Job("default", "queue") == nil {
		t.Error("wrong jobs deleted")
	}
}

func TestWait(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)

	// Already complete.
	out, _, err := c.run("wait", "job/pi", "--for=condition=complete")
	if err != nil || out != "job.batch/pi: 1/1 succeeded, 0 active, 0 failed\njob.batch/pi condition met\n" {
		t.Errorf("complete: %q %v", out, err)
	}
	// Failed while waiting for Complete.
	_, _, err = c.run("wait", "job", "queue", "--for", "condition=Complete")
	if err == nil || err.Error() != `job "queue" is Failed: BackoffLimitExceeded: Job has reached the specified backoff limit` {
		t.Errorf("failed: %v", err)
	}
	// Waiting for Failed on a Job that fails.
	if _, _, err := c.run("wait", "job/queue", "--for=condition=Failed"); err != nil {
		t.Errorf("wait for Failed: %v", err)
	}
	// Timeout, with the progress in the message.
	_, _, err = c.run("wait", "job/parallel", "--for=condition=Complete", "--timeout", "50ms")
	if err == nil || err.Error() != "timed out after 50ms waiting for job.batch/parallel to be Complete (3/20 succeeded, 2 active, 0 failed)" {
		t.Errorf("timeout: %v", err)
	}
	// --timeout 0 checks once.
	if _, _, err := c.run("wait", "job/parallel", "--timeout", "0"); err == nil || !strings.HasPrefix(err.Error(), "job.batch/parallel does not have condition Complete") {
		t.Errorf("check once: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"wait", "job/nope"}, `jobs.batch "nope" not found`},
		{[]string{"wait", "job/pi", "--for=delete"}, `--for must be condition=NAME, such as condition=Complete, not "delete"`},
		{[]string{"wait", "pod/x"}, "wait supports jobs only"},
		{[]string{"wait", "pi"}, "expected KIND/NAME or KIND NAME"},
	} {
		if _, _, err := c.run(tc.args...); err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %s", tc.args, err, tc.want)
		}
	}
}

func TestWaitProgress(t *testing.T) {
	for _, term := range []bool{false, true} {
		c := newCLI(t)
		c.term = term
		c.srv.PutJob(fixtureJob("w", "default", nil, 2, time.Second, &v1.JobStatus{Active: 2}))
		go func() {
			// Let the wait start watching, then progress and complete.
			for c.srv.Calls("WatchJobs") == 0 {
				time.Sleep(time.Millisecond)
			}
			c.srv.ModifyJob("default", "w", func(j *v1.Job) { j.Status = &v1.JobStatus{Active: 1, Succeeded: 1} })
			c.srv.ModifyJob("default", "w", func(j *v1.Job) { j.Status = &v1.JobStatus{Active: 1, Succeeded: 1} })
			c.srv.ModifyJob("default", "w", func(j *v1.Job) {
				j.Status = &v1.JobStatus{Succeeded: 2, Conditions: []*v1.JobCondition{cond("Complete", "", "")}}
			})
		}()
		out, _, err := c.run("wait", "job/w", "--for=condition=Complete", "--timeout=10s")
		want := "job.batch/w: 0/? succeeded, 2 active, 0 failed\njob.batch/w: 1/? succeeded, 1 active, 0 failed\njob.batch/w: 2/? succeeded, 0 active, 0 failed\njob.batch/w condition met\n"
		if term {
			want = "\r\x1b[Kjob.batch/w: 0/? succeeded, 2 active, 0 failed\r\x1b[Kjob.batch/w: 1/? succeeded, 1 active, 0 failed\r\x1b[Kjob.batch/w: 2/? succeeded, 0 active, 0 failed\njob.batch/w condition met\n"
		}
		if err != nil || out != want {
			t.Errorf("terminal=%v: %q, %v\nwant %q", term, out, err, want)
		}
	}
}

func TestLogs(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	c.srv.SetLogs("default", "parallel-4", "", "pod parallel-4 done\n")
	c.srv.SetLogs("default", "parallel-5", "", "starting\nno newline")
	c.srv.SetLogs("default", "pi-x7k2q", "", "3.14159\n")
	c.srv.SetLogs("default", "pi-x7k2q", "side", "side\n")
	for _, tc := range []struct {
		args []string
		out  string
		err  string
	}{
		{[]string{"logs", "pi-x7k2q"}, "3.14159\n", ""},
		{[]string{"logs", "pod/pi-x7k2q", "-c", "side"}, "side\n", ""},
		{[]string{"logs", "job/pi"}, "3.14159\n", ""},
		{[]string{"logs", "job/pi", "--prefix"}, "[pi-x7k2q] 3.14159\n", ""},
		{[]string{"logs", "job/parallel"}, "[parallel-4] pod parallel-4 done\n[parallel-5] starting\n[parallel-5] no newline\n", ""},
		{[]string{"logs", "job/parallel", "--tail", "1"}, "[parallel-4] pod parallel-4 done\n[parallel-5] no newline\n", ""},
		{[]string{"logs", "nope"}, "", `pods "nope" not found`},
		{[]string{"logs", "job/nope"}, "", `jobs.batch "nope" not found`},
		{[]string{"logs", "node/worker-1"}, "", "logs are kept for pods and jobs, not nodes"},
	} {
		out, _, err := c.run(tc.args...)
		if out != tc.out || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%v: %q, %v; want %q, %s", tc.args, out, err, tc.out, tc.err)
		}
	}
}

func TestLogsFollowSeveralPods(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	c.srv.SetLogs("default", "parallel-4", "", "a1\na2\n")
	c.srv.SetLogs("default", "parallel-5", "", "b1\n")
	done := make(chan struct{})
	var out string
	var err error
	go func() {
		defer close(done)
		out, _, err = c.runWithTimeout(300*time.Millisecond, "logs", "-f", "job/parallel")
	}()
	<-done
	// Both streams were followed at once; lines are whole and prefixed.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(out, "[parallel-4] a1\n") || !strings.Contains(out, "[parallel-5] b1\n") {
		t.Errorf("follow: %q, %v", out, err)
	}
}
