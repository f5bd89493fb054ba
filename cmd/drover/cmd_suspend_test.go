package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/pkg/client"
)

// runSuspendCLI runs `drover suspend|resume args...` against the fake server.
func runSuspendCLI(c *cli, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	env := &cliEnv{
		in: strings.NewReader(""), out: &out, errOut: &errOut, server: new(string),
		now: func() time.Time { return testNow }, loc: time.UTC, isTerminal: func(io.Writer) bool { return false },
		dial: []client.Option{client.WithRetry(3, time.Millisecond, 5*time.Millisecond)},
	}
	root := &cobra.Command{Use: "drover", SilenceUsage: true, SilenceErrors: true}
	addServerFlag(root, env)
	root.AddCommand(newSuspendCmd(env, true), newSuspendCmd(env, false))
	root.SetArgs(append([]string{"--server", c.srv.Addr}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// TestSuspendResumeJob: drover suspend/resume job NAME set spec.suspend
// through the SDK's Update (SPEC J9), retrying a conflicting write.
func TestSuspendResumeJob(t *testing.T) {
	c := newCLI(t)
	c.srv.PutJob(fixtureJob("pi", "default", proto.Int32(1), 1, time.Hour, nil))
	suspended := func() bool {
		t.Helper()
		cl, err := client.New(context.Background(), c.srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		j, err := cl.Jobs("default").Get(context.Background(), "pi")
		if err != nil {
			t.Fatal(err)
		}
		return j.GetSpec().GetSuspend()
	}

	// The first update conflicts (the controller wrote status meanwhile).
	c.srv.FailNext("UpdateJob", status.Error(codes.Aborted, "changed"))
	out, err := runSuspendCLI(c, "suspend", "job", "pi")
	if err != nil || out != "job.batch/pi suspended\n" || !suspended() {
		t.Fatalf("suspend: %q, %v, suspended=%v", out, err, suspended())
	}
	if n := c.srv.Calls("UpdateJob"); n != 2 {
		t.Fatalf("%d UpdateJob calls, want 2 (one conflict, one retry)", n)
	}
	if out, err := runSuspendCLI(c, "suspend", "job/pi"); err != nil || out != "job.batch/pi already suspended\n" {
		t.Fatalf("suspend again: %q, %v", out, err)
	}
	if out, err := runSuspendCLI(c, "resume", "job", "pi"); err != nil || out != "job.batch/pi resumed\n" || suspended() {
		t.Fatalf("resume: %q, %v", out, err)
	}
	for _, args := range [][]string{{"resume", "job", "nope"}, {"suspend", "pod", "x"}, {"suspend"}, {"resume", "job"}} {
		if _, err := runSuspendCLI(c, args...); err == nil {
			t.Errorf("drover %v: no error", args)
		}
	}
}
