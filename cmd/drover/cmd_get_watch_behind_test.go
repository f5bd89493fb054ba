package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// SPEC B1, issue 13 #6: when the server ends `drover get -w`'s stream
// because it fell too far behind (ResourceExhausted, reason
// WATCH_TOO_FAR_BEHIND), the SDK opens it again from the last change
// shown: every change is printed once and the command does not fail.
func TestGetWatchResumesAfterFallingBehind(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	st, err := status.New(codes.ResourceExhausted, "watch ended: the client fell more than 128 changes behind").
		WithDetails(&errdetails.ErrorInfo{Reason: "WATCH_TOO_FAR_BEHIND", Domain: "drover.dev"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		waitCalls(t, c.srv, "WatchJobs", 1)
		c.srv.ModifyJob("default", "parallel", func(j *v1.Job) { j.Status.Succeeded = 4 })
		c.srv.EndWatches(st.Err())
		c.srv.PutJob(fixtureJob("late", "default", nil, 1, 0, &v1.JobStatus{}))
	}()
	// The command runs until its context ends, as an interrupt ends it.
	out, errOut, err := c.runWithTimeout(3*time.Second, "get", "jobs", "-w", "--output-watch-events")
	if err != nil || errOut != "" {
		t.Fatalf("get -w: %v (%s)\n%s", err, errOut, out)
	}
	want := "EVENT     NAME       STATUS     COMPLETIONS   DURATION   AGE\n" +
		"ADDED     parallel   Running    3/20          3m20s      3m20s\n" +
		"ADDED     pi         Complete   1/1           42s        5m\n" +
		"ADDED     queue      Failed     0/1 of 3      2d2h       2d2h\n" +
		"MODIFIED  parallel   Running    4/20          3m20s      3m20s\n" +
		"ADDED     late       Running    0/1                      0s\n"
	if out != want {
		t.Errorf("get -w printed\n%s\nwant\n%s", out, want)
	}
	if n := c.srv.Calls("WatchJobs"); n != 2 {
		t.Errorf("WatchJobs called %d times, want 2 (the stream opened again once)", n)
	}
	if strings.Count(out, "late") != 1 {
		t.Errorf("late printed %d times", strings.Count(out, "late"))
	}
}
