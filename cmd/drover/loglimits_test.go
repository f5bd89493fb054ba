package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestLogLimitFlags: --container-log-max-size and --container-log-max-files
// default to the kubelet's 10Mi x 5 and refuse values out of range, naming
// the flag (SPEC W3, issue 13 #5).
func TestLogLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		wantSize  int64
		wantFiles int
		wantErr   string
	}{
		{args: nil, wantSize: 10 << 20, wantFiles: 5},
		{args: []string{"--container-log-max-size", "64Ki", "--container-log-max-files", "1"}, wantSize: 64 << 10, wantFiles: 1},
		{args: []string{"--container-log-max-size", "100M"}, wantSize: 100_000_000, wantFiles: 5},
		{args: []string{"--container-log-max-size", "1Ki"}, wantErr: "--container-log-max-size"},
		{args: []string{"--container-log-max-size", "ten"}, wantErr: "--container-log-max-size"},
		{args: []string{"--container-log-max-size", "-10Mi"}, wantErr: "--container-log-max-size"},
		{args: []string{"--container-log-max-files", "0"}, wantErr: "--container-log-max-files"},
	} {
		var o logLimitFlags
		f := pflag.NewFlagSet("test", pflag.ContinueOnError)
		o.register(f)
		if err := f.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		size, files, err := o.values()
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want one naming %s", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || size != tc.wantSize || files != tc.wantFiles {
			t.Errorf("%v: %d bytes x %d files (%v), want %d x %d", tc.args, size, files, err, tc.wantSize, tc.wantFiles)
		}
	}
	// The commands that run workers have both flags.
	for _, name := range []string{"worker", "dev"} {
		cmd, _, err := rootCmd.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		for _, flag := range []string{"container-log-max-size", "container-log-max-files"} {
			if cmd.Flags().Lookup(flag) == nil {
				t.Errorf("drover %s has no --%s", name, flag)
			}
		}
	}
}
