package main

import (
	"strings"
	"testing"
)

// TestCordonUncordon checks that cordon and uncordon set spec.unschedulable
// through the API (SPEC N5) and say so like kubectl.
func TestCordonUncordon(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	for _, tc := range []struct {
		args      []string
		out, err  string
		cordoned1 bool
	}{
		{[]string{"cordon", "worker-1"}, "node/worker-1 cordoned\n", "", true},
		{[]string{"cordon", "worker-1"}, "node/worker-1 already cordoned\n", "", true},
		{[]string{"uncordon", "worker-1", "worker-2"}, "node/worker-1 uncordoned\nnode/worker-2 uncordoned\n", "", false},
		{[]string{"cordon", "nope"}, "", `nodes "nope" not found`, false},
	} {
		out, _, err := c.run(tc.args...)
		if out != tc.out || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%v: %q, %v; want %q, %s", tc.args, out, err, tc.out, tc.err)
		}
		if got := nodeUnschedulable(t, c, "worker-1"); got != tc.cordoned1 {
			t.Errorf("%v: worker-1 unschedulable %v, want %v", tc.args, got, tc.cordoned1)
		}
	}
}

func nodeUnschedulable(t *testing.T, c *cli, name string) bool {
	t.Helper()
	out, _, err := c.run("get", "node", name, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(out, `"unschedulable": true`)
}

// TestDrain checks that drain cordons the node, deletes each of its
// unfinished pods (not the finished ones, not other nodes' pods) and reports
// the node drained once none is left (SPEC N5).
func TestDrain(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	out, _, err := c.run("drain", "worker-1", "--timeout", "5s", "--poll-interval", "10ms")
	want := "node/worker-1 cordoned\nevicting pod default/parallel-4\nwaiting for 1 pod(s) to stop: parallel-4\nnode/worker-1 drained\n"
	if err != nil || out != want {
		t.Fatalf("drain: %q %v; want %q", out, err, want)
	}
	if !nodeUnschedulable(t, c, "worker-1") {
		t.Error("worker-1 not cordoned")
	}
	if n := c.srv.Calls("DeletePod"); n != 1 {
		t.Errorf("DeletePod called %d times, want 1", n)
	}
	pods, _, err := c.run("get", "pods", "-o", "name")
	if err != nil || !strings.Contains(pods, "pi-x7k2q") || !strings.Contains(pods, "queue-a1") || strings.Contains(pods, "parallel-4") {
		t.Errorf("pods left: %q %v", pods, err)
	}
}

// TestStatus shows the leader, its fencing revision and who answered (SPEC L1).
func TestStatus(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	c.srv.SetLeader("c2")
	out, _, err := c.run("status")
	want := "Leader:             c2\nFencing revision:   7\nAnswered by:        fake\nNodes:              1/2 Ready, 1 cordoned\n"
	if err != nil || out != want {
		t.Errorf("status: %q %v; want %q", out, err, want)
	}
}
