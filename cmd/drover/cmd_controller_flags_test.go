package main

import (
	"bytes"
	"testing"
)

// SPEC B1: --watch-buffer below one store transaction's worth of changes is
// refused naming the flag and the limit, before anything starts.
func TestControllerWatchBufferFlag(t *testing.T) {
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs([]string{"controller", "--watch-buffer", "5", "--etcd-endpoints", "http://127.0.0.1:1"})
	defer rootCmd.SetArgs(nil)
	err := rootCmd.Execute()
	if err == nil || err.Error() != "--watch-buffer must be at least 128 (the most changes one store transaction makes), not 5" {
		t.Fatalf("controller --watch-buffer 5: %v", err)
	}
}
