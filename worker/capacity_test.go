package worker

import (
	"testing"

	"github.com/drover-dev/drover/internal/etcdtest"
	"github.com/drover-dev/drover/pkg/store"
)

// TestCapacityMeasuredWhenAbsent: a worker started without --capacity (the
// CLI passes an empty map) or with only some resources named publishes a
// measured cpu, memory and pods for the rest, never nothing (issue 13 #7;
// SPEC N1, S1: the scheduler takes a missing resource as unlimited).
func TestCapacityMeasuredWhenAbsent(t *testing.T) {
	measured := DefaultCapacity()
	for _, tc := range []struct {
		name  string
		given map[string]string
		want  map[string]string
	}{
		{"nil", nil, measured},
		{"empty flag", map[string]string{}, measured},
		{"cpu named", map[string]string{"cpu": "3"}, map[string]string{"cpu": "3", "memory": measured["memory"], "pods": "110"}},
		{"empty value", map[string]string{"pods": "", "gpu": "1"}, map[string]string{"cpu": measured["cpu"], "memory": measured["memory"], "pods": "110", "gpu": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, _ := etcdtest.Start(t)
			st := store.New(cli)
			startWorker(t, cli, "n1", t.TempDir(), func(c *Config) { c.Capacity = tc.given })
			ctx := testCtx(t)
			eventually(t, "node registered with capacity", func() bool {
				n, err := st.Nodes().Get(ctx, "", "n1")
				return err == nil && n.GetStatus().GetLeaseId() != 0
			})
			n, err := st.Nodes().Get(ctx, "", "n1")
			if err != nil {
				t.Fatal(err)
			}
			got := n.GetStatus().GetCapacity()
			if len(got) != len(tc.want) {
				t.Fatalf("capacity %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if v == "" || got[k] != v {
					t.Errorf("capacity[%s] = %q, want %q (all: %v)", k, got[k], v, got)
				}
				if n.GetStatus().GetAllocatable()[k] != v {
					t.Errorf("allocatable[%s] = %q, want %q", k, n.GetStatus().GetAllocatable()[k], v)
				}
			}
		})
	}
}
