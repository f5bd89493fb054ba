package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Issue 13 #10 (SPEC P3, N2): `drover logs job/NAME` prints every log that
// exists and a note on stderr for each pod whose log is gone (lost with its
// node), instead of aborting at the first one; it fails only when no log
// could be read at all.
func TestLogsJobWithLostPod(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	// parallel-4 is the Job's first pod: its node is gone with its log.
	c.srv.SetLogsError("default", "parallel-4", status.Error(codes.NotFound, "no containers of pod default/parallel-4 on node worker-1"))
	c.srv.SetLogs("default", "parallel-5", "", "b1\nb2\n")
	const note = "# pod parallel-4: log not available: no containers of pod default/parallel-4 on node worker-1\n"
	for _, args := range [][]string{
		{"logs", "job/parallel"},
		{"logs", "job/parallel", "--tail", "1"},
	} {
		out, errOut, err := c.run(args...)
		want := "[parallel-5] b1\n[parallel-5] b2\n"
		if len(args) > 2 {
			want = "[parallel-5] b2\n"
		}
		if err != nil || out != want || errOut != note {
			t.Errorf("%v: out %q, stderr %q, err %v; want %q and the note %q", args, out, errOut, err, want, note)
		}
	}

	// Followed at once, the same.
	out, errOut, err := c.runWithTimeout(2*time.Second, "logs", "-f", "job/parallel")
	if out != "[parallel-5] b1\n[parallel-5] b2\n" || errOut != note {
		t.Errorf("-f: out %q, stderr %q, err %v", out, errOut, err)
	}

	// An unreachable node (Unavailable, after the SDK's retries) and an
	// unscheduled pod (FailedPrecondition) are notes too; with no log left
	// at all the command fails, after the notes.
	c.srv.SetLogsError("default", "parallel-5", status.Error(codes.FailedPrecondition, "pod parallel-5 is not scheduled yet: no logs"))
	c.srv.SetLogsError("default", "parallel-4", status.Error(codes.Unavailable, "node worker-1: connection refused"))
	out, errOut, err = c.run("logs", "job/parallel")
	wantNotes := "# pod parallel-4: log not available: node worker-1: connection refused\n" +
		"# pod parallel-5: log not available: pod parallel-5 is not scheduled yet: no logs\n"
	if out != "" || errOut != wantNotes || err == nil || err.Error() != `job "parallel": no pod's log is available (2 pods)` {
		t.Errorf("no logs: out %q, stderr %q, err %v", out, errOut, err)
	}

	// A single pod: a pod that exists but whose log is gone is told apart
	// from a pod that does not exist.
	c.srv.SetLogsError("default", "parallel-4", status.Error(codes.NotFound, "no containers of pod default/parallel-4 on node worker-1"))
	if _, _, err := c.run("logs", "parallel-4"); err == nil || !strings.HasPrefix(err.Error(), "pod parallel-4: log not available: no containers of pod") {
		t.Errorf("lost pod: %v", err)
	}
	if _, _, err := c.run("logs", "nope"); err == nil || err.Error() != `pods "nope" not found` {
		t.Errorf("missing pod: %v", err)
	}
}
