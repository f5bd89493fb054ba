package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/client"
)

// TestConfigPrecedence: a flag wins over the environment, which wins over
// the config file, which wins over the defaults; $XDG_CONFIG_HOME moves the
// file and --config names another.
func TestConfigPrecedence(t *testing.T) {
	home, xdg, other := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, rel, body string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(home, ".config/drover/config.yaml", "server: home:1\nnamespace: home-ns\n")
	write(xdg, "drover/config.yaml", "server: xdg:1\n")
	explicit := write(other, "c.yaml", "namespace: explicit-ns\n")
	bad := write(other, "bad.yaml", "server: a\nservre: b\n")

	for _, tc := range []struct {
		name       string
		sub        string
		args       []string
		vars       map[string]string
		wantServer string
		wantNS     string
		wantErr    string
	}{
		{name: "defaults", vars: map[string]string{"HOME": t.TempDir()}, wantServer: client.DefaultAddress, wantNS: "default"},
		{name: "config file", vars: map[string]string{"HOME": home}, wantServer: "home:1", wantNS: "home-ns"},
		{name: "env over file", vars: map[string]string{"HOME": home, "DROVER_SERVER": "env:1", "DROVER_NAMESPACE": "env-ns"}, wantServer: "env:1", wantNS: "env-ns"},
		{name: "flags over env", args: []string{"--server", "flag:1", "-n", "flag-ns"}, vars: map[string]string{"HOME": home, "DROVER_SERVER": "env:1", "DROVER_NAMESPACE": "env-ns"}, wantServer: "flag:1", wantNS: "flag-ns"},
		{name: "xdg over home", vars: map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg}, wantServer: "xdg:1", wantNS: "default"},
		{name: "--config", args: []string{"--config", explicit}, vars: map[string]string{"HOME": home}, wantServer: client.DefaultAddress, wantNS: "explicit-ns"},
		{name: "--config missing", args: []string{"--config", filepath.Join(other, "none.yaml")}, wantErr: "no such file"},
		{name: "unknown key", args: []string{"--config", bad}, wantErr: `unknown field "servre"`},
		{name: "flags need no file", args: []string{"--config", bad, "--server", "s:1", "-n", "x"}, wantServer: "s:1", wantNS: "x"},
		{name: "cluster processes ignore it", sub: "dev", args: []string{"--config", bad}, wantServer: "", wantNS: "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &cliEnv{server: new(string), env: func(k string) string { return tc.vars[k] }}
			root := &cobra.Command{Use: "drover", SilenceUsage: true, SilenceErrors: true}
			addServerFlag(root, env)
			var ns string
			name := tc.sub
			if name == "" {
				name = "sub"
			}
			sub := &cobra.Command{Use: name, RunE: func(*cobra.Command, []string) error { return nil }}
			addNamespaceFlag(sub, &ns)
			root.AddCommand(sub)
			root.SetArgs(append([]string{name}, tc.args...))
			err := root.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *env.server != tc.wantServer || ns != tc.wantNS {
				t.Errorf("server %q namespace %q, want %q %q", *env.server, ns, tc.wantServer, tc.wantNS)
			}
		})
	}
}

// TestNamespaceFromEnvironment: DROVER_NAMESPACE picks what get lists and
// where apply puts a manifest without a namespace; -n still wins.
func TestNamespaceFromEnvironment(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	c.vars = map[string]string{"DROVER_NAMESPACE": "batch"}
	out, _, err := c.run("get", "jobs", "-o", "name")
	if err != nil || out != "job.batch/nightly\n" {
		t.Errorf("get jobs in batch: %q %v", out, err)
	}
	out, _, err = c.run("get", "jobs", "-n", "default", "-o", "name")
	if err != nil || !strings.Contains(out, "job.batch/pi\n") {
		t.Errorf("-n default: %q %v", out, err)
	}
	c.stdin = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: e\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n"
	if _, _, err := c.run("apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if c.srv.Job("batch", "e") == nil {
		t.Error("apply did not create job e in namespace batch")
	}
}
