package docker

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/drover-dev/drover/worker/runtime"
)

// TestCreatedNeverStartedIsRunAgain (issue 13 #1; SPEC J11, N3): a worker
// that died between creating a container and starting it leaves it
// "created" on the engine. A new Runtime of the same scope (the restarted
// worker) must not see it as created for good (never started, never exited,
// never removable): it is removed, as it never ran, and Run starts the
// container anew.
func TestCreatedNeverStartedIsRunAgain(t *testing.T) {
	dead := newTestRuntime(t)
	ctx := ctxT(t)
	cfg := cfgOf("abandoned", "sh", "-c", "echo ran")
	name, _ := dead.name(cfg.GetId())
	labels := map[string]string{LabelScope: dead.cfg.Scope, LabelID: cfg.GetId()}
	for k, v := range cfg.GetLabels() {
		labels[k] = v
	}
	body := createBody{Image: cfg.GetImage(), Entrypoint: cfg.GetCommand(), Labels: labels,
		HostConfig: hostConfig{NetworkMode: "none", LogConfig: logConfig{Type: "json-file"}}}
	// What Run does before it starts the container, and nothing more.
	if err := dead.e.call(ctx, http.MethodPost, "/containers/create", url.Values{"name": {name}}, body, nil); err != nil {
		t.Fatal(err)
	}

	restarted, err := New(dead.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	infos, err := restarted.List(ctx, map[string]string{"drover.pod-uid": "uid-abandoned"})
	if err != nil || len(infos) != 0 {
		t.Fatalf("list after the restart: %v %v; want the never-started container gone", infos, err)
	}
	if _, err := restarted.Status(ctx, cfg.GetId()); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("status: %v, want ErrNotFound", err)
	}
	if _, err := restarted.Run(ctx, cfg); err != nil {
		t.Fatalf("run again: %v", err)
	}
	info, err := restarted.Wait(ctx, cfg.GetId())
	if err != nil || info.GetExitCode() != 0 || info.GetReason() != ReasonCompleted {
		t.Fatalf("wait: %v %v", info, err)
	}
	rc, err := restarted.Logs(ctx, cfg.GetId(), false, 0)
	if got := readAll(t, rc, err); got != "ran\n" {
		t.Errorf("logs %q", got)
	}
}
