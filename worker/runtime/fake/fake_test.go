package fake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	"github.com/drover-dev/drover/worker/runtime"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newRuntime(t *testing.T, cfg Config) (*Runtime, *testingclock.FakeClock) {
	t.Helper()
	clk := testingclock.NewFakeClock(t0)
	cfg.Clock = clk
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, clk
}

func ctrCfg(id string, env map[string]string) *runtimev1.ContainerConfig {
	return &runtimev1.ContainerConfig{Id: id, Name: "c", Env: env, Labels: map[string]string{"pod": id}}
}

func TestZeroDurationExitsInRun(t *testing.T) {
	r, _ := newRuntime(t, Config{})
	info, err := r.Run(context.Background(), ctrCfg("a", nil))
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED || info.GetExitCode() != 0 || info.GetReason() != "Completed" {
		t.Fatalf("zero-duration container: got %v", info)
	}
	if info.GetStartedAtUnixNano() != t0.UnixNano() || info.GetFinishedAtUnixNano() != t0.UnixNano() {
		t.Fatalf("times: %v", info)
	}
	if _, err := r.Run(context.Background(), ctrCfg("a", nil)); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("second run: %v, want ErrAlreadyExists", err)
	}
}

func TestDurationAndExitCode(t *testing.T) {
	r, clk := newRuntime(t, Config{Duration: 5 * time.Second, ExitCode: 3})
	ctx := context.Background()
	info, err := r.Run(ctx, ctrCfg("a", nil))
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING {
		t.Fatalf("state %v, want running", info.GetState())
	}
	if err := r.Remove(ctx, "a"); !errors.Is(err, runtime.ErrRunning) {
		t.Fatalf("remove running: %v", err)
	}
	waited := make(chan *runtimev1.ContainerInfo)
	go func() {
		info, err := r.Wait(ctx, "a")
		if err != nil {
			t.Error(err)
		}
		waited <- info
	}()
	clk.Step(4 * time.Second)
	if s, _ := r.Status(ctx, "a"); s.GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING {
		t.Fatalf("exited early: %v", s)
	}
	clk.Step(time.Second)
	got := <-waited
	if got.GetExitCode() != 3 || got.GetReason() != "Error" || got.GetFinishedAtUnixNano() != t0.Add(5*time.Second).UnixNano() {
		t.Fatalf("exit: %v", got)
	}
	if err := r.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Status(ctx, "a"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("status after remove: %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	r, clk := newRuntime(t, Config{Duration: time.Hour})
	ctx := context.Background()
	info, err := r.Run(ctx, ctrCfg("a", map[string]string{EnvDuration: "0s", EnvExitCode: "42"}))
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED || info.GetExitCode() != 42 {
		t.Fatalf("override: %v", info)
	}
	if _, err := r.Run(ctx, ctrCfg("b", map[string]string{EnvDuration: "2s"})); err != nil {
		t.Fatal(err)
	}
	clk.Step(2 * time.Second)
	if s, _ := r.Status(ctx, "b"); s.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED {
		t.Fatalf("b should have exited: %v", s)
	}
	for _, env := range []map[string]string{{EnvDuration: "soon"}, {EnvDuration: "-1s"}, {EnvExitCode: "x"}} {
		if _, err := r.Run(ctx, ctrCfg(fmt.Sprint(env), env)); !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("env %v: %v, want ErrInvalid", env, err)
		}
	}
}

func TestFailRatio(t *testing.T) {
	r, _ := newRuntime(t, Config{FailRatio: 0.1, FailExitCode: 7})
	ctx := context.Background()
	const n = 2000
	failed := 0
	for i := range n {
		info, err := r.Run(ctx, ctrCfg(fmt.Sprintf("pod-%d", i), nil))
		if err != nil {
			t.Fatal(err)
		}
		switch info.GetExitCode() {
		case 0:
		case 7:
			failed++
		default:
			t.Fatalf("exit code %d", info.GetExitCode())
		}
	}
	// The choice hashes the id: about 10%, and the same ids again give
	// the same answer.
	if failed < n/20 || failed > n*3/20 {
		t.Fatalf("%d of %d failed, want about 10%%", failed, n)
	}
	r2, _ := newRuntime(t, Config{FailRatio: 0.1, FailExitCode: 7})
	again := 0
	for i := range n {
		info, _ := r2.Run(ctx, ctrCfg(fmt.Sprintf("pod-%d", i), nil))
		if info.GetExitCode() == 7 {
			again++
		}
	}
	if again != failed {
		t.Fatalf("not reproducible: %d then %d", failed, again)
	}
	if _, err := New(Config{FailRatio: 1.5}); err == nil {
		t.Fatal("fail ratio 1.5 accepted")
	}
}

func TestStopAndList(t *testing.T) {
	r, _ := newRuntime(t, Config{Duration: time.Hour})
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := r.Run(ctx, ctrCfg(id, nil)); err != nil {
			t.Fatal(err)
		}
	}
	info, err := r.Stop(ctx, "a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetSignal() != 15 || info.GetExitCode() != 143 {
		t.Fatalf("graceful stop: %v", info)
	}
	info, _ = r.Stop(ctx, "b", 0)
	if info.GetSignal() != 9 {
		t.Fatalf("kill: %v", info)
	}
	if _, err := r.Stop(ctx, "zz", 0); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("stop missing: %v", err)
	}
	all, _ := r.List(ctx, nil)
	one, _ := r.List(ctx, map[string]string{"pod": "b"})
	if len(all) != 2 || len(one) != 1 || one[0].GetId() != "b" {
		t.Fatalf("list: all %d, selected %v", len(all), one)
	}
}

// SPEC N4: without a new Fence call within killAfter, every container dies.
func TestFenceKillsUnlessRearmed(t *testing.T) {
	r, clk := newRuntime(t, Config{Duration: time.Hour})
	ctx := context.Background()
	if _, err := r.Run(ctx, ctrCfg("a", nil)); err != nil {
		t.Fatal(err)
	}
	_ = r.Fence(ctx, 10*time.Second)
	clk.Step(8 * time.Second)
	_ = r.Fence(ctx, 10*time.Second) // re-armed: the first deadline no longer counts
	clk.Step(8 * time.Second)
	if s, _ := r.Status(ctx, "a"); s.GetState() != runtimev1.ContainerState_CONTAINER_STATE_RUNNING {
		t.Fatalf("killed despite re-arm: %v", s)
	}
	clk.Step(2 * time.Second)
	s, _ := r.Status(ctx, "a")
	if s.GetState() != runtimev1.ContainerState_CONTAINER_STATE_EXITED || s.GetSignal() != 9 {
		t.Fatalf("fence did not kill: %v", s)
	}
}

func TestLogsFollowEndsAtExit(t *testing.T) {
	r, clk := newRuntime(t, Config{Duration: time.Second})
	ctx := context.Background()
	if _, err := r.Run(ctx, ctrCfg("a", nil)); err != nil {
		t.Fatal(err)
	}
	rd, err := r.Logs(ctx, "a", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(rd)
		got <- string(b)
	}()
	clk.Step(time.Second)
	if s := <-got; s != "fake container a\n" {
		t.Fatalf("logs %q", s)
	}
}

// TestListMatchesAScan: whatever was run and removed, List with a
// selector returns exactly the containers a scan of all of them matches,
// for pairs held by one container, by several, and by none.
func TestListMatchesAScan(t *testing.T) {
	r, _ := newRuntime(t, Config{})
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	live := map[string]bool{}
	for i := range 300 {
		id := fmt.Sprintf("c%d", i)
		cfg := ctrCfg(id, nil)
		cfg.Labels["group"] = fmt.Sprintf("g%d", rnd.IntN(4))
		cfg.Labels["node"] = "n"
		if _, err := r.Run(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		live[id] = true
		if rnd.IntN(3) == 0 { // remove a random live container
			for v := range live {
				if err := r.Remove(ctx, v); err != nil {
					t.Fatal(err)
				}
				delete(live, v)
				break
			}
		}
	}
	all, _ := r.List(ctx, nil)
	if len(all) != len(live) {
		t.Fatalf("List(nil): %d containers, want %d", len(all), len(live))
	}
	selectors := []map[string]string{{"node": "n"}, {"node": "other"}, {"pod": "c7"}, {"pod": "c299"}, {"group": "g1", "node": "n"}, {"group": "g2", "pod": "c10"}}
	for i := range 4 {
		selectors = append(selectors, map[string]string{"group": fmt.Sprintf("g%d", i)})
	}
	for _, sel := range selectors {
		want := map[string]bool{}
		for _, c := range all {
			if runtime.LabelsMatch(c.GetLabels(), sel) {
				want[c.GetId()] = true
			}
		}
		got, _ := r.List(ctx, sel)
		ids := map[string]bool{}
		for _, c := range got {
			ids[c.GetId()] = true
		}
		if len(got) != len(want) || !maps.Equal(ids, want) {
			t.Errorf("List(%v): %d containers, want %d", sel, len(got), len(want))
		}
	}
	for v := range live {
		if err := r.Remove(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.byLabel) != 0 {
		t.Fatalf("%d label pairs left after every container was removed", len(r.byLabel))
	}
}
