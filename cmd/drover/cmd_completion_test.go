package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCompletion: kinds, then names read from the API, for get, describe,
// delete, logs and wait (cobra's __complete is what the shell scripts run).
func TestCompletion(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", ""}, "jobs pods nodes events cronjobs daemonsets"},
		{[]string{"get", "p"}, "pods"},
		{[]string{"get", "jobs", ""}, "parallel pi queue"},
		{[]string{"get", "jobs", "pi", ""}, "parallel queue"},
		{[]string{"get", "jobs", "-n", "batch", ""}, "nightly"},
		{[]string{"get", "jobs", "-A", ""}, "nightly parallel pi queue"},
		{[]string{"get", "job/p"}, "job/parallel job/pi"},
		{[]string{"describe", "node", ""}, "worker-1 worker-2"},
		{[]string{"describe", "node", "worker-1", ""}, ""},
		{[]string{"delete", "pods", "q"}, "queue-a1"},
		{[]string{"logs", "pi"}, "pi-x7k2q"},
		{[]string{"logs", "job/q"}, "job/queue"},
		{[]string{"wait", ""}, "jobs/"},
		{[]string{"wait", "jobs/pa"}, "jobs/parallel"},
	} {
		out, _, err := c.run(append([]string{"__complete"}, tc.args...)...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		// Candidates one a line, then ":<directive>".
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") && l != "" {
				got = append(got, l)
			}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("complete %q = %q, want %q", tc.args, g, tc.want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_drover", "zsh": "#compdef drover", "fish": "complete -c drover"} {
		root := &cobra.Command{Use: "drover"}
		root.AddCommand(newCompletionCmd(), &cobra.Command{Use: "get", Run: func(*cobra.Command, []string) {}})
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"completion", shell})
		if err := root.Execute(); err != nil || !strings.Contains(out.String(), want) {
			t.Errorf("completion %s: %v, output lacks %q", shell, err, want)
		}
	}
}
