package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/internal/etcdtest"
	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/worker/runtime"
	"github.com/drover-dev/drover/worker/runtime/process"
)

// TestDeletedBeforeStartEndsFailed (SPEC J11, P2; issue 13 #1b): a pod
// whose assignment carries a deletionTimestamp before any of its containers
// was created ends Failed, its containers terminated with Kubernetes'
// ContainerStatusUnknown, instead of staying Pending (Terminating) for good.
// Both ways in: found by the resync of a worker that starts (a worker that
// was frozen while the pod was bound and deleted), and a fresh assignment
// seen on the watch.
func TestDeletedBeforeStartEndsFailed(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	listed := newPod("n1", "listed", "exec sleep 30")
	listed.Metadata.DeletionTimestamp = timestamppb.Now()
	assign(t, st, listed)

	w := startWorker(t, cli, "n1", t.TempDir(), nil)
	watched := newPod("n1", "watched", "exec sleep 30")
	watched.Metadata.DeletionTimestamp = timestamppb.Now()
	assign(t, w.st, watched)

	for _, pod := range []*v1.Pod{listed, watched} {
		p := waitPhase(t, w.st, pod, PhaseFailed)
		cs := p.GetStatus().GetContainerStatuses()
		if len(cs) != 1 {
			t.Fatalf("%s: container statuses %v", pod.Metadata.Name, cs)
		}
		term := cs[0].GetState().GetTerminated()
		if term.GetReason() != ReasonNeverStarted || term.GetExitCode() != ExitCodeNeverStarted || cs[0].GetContainerId() != "" {
			t.Errorf("%s: container state %v (id %q)", pod.Metadata.Name, cs[0].GetState(), cs[0].GetContainerId())
		}
		infos, err := w.local.List(testCtx(t), map[string]string{LabelPodUID: pod.Metadata.Uid})
		if err != nil || len(infos) != 0 {
			t.Errorf("%s: containers created for a deleted pod: %v %v", pod.Metadata.Name, infos, err)
		}
	}
}

// TestRestartOverHalfCreatedContainer (SPEC N3, J11; issue 13 #1a): a
// worker that died while creating a container, leaving its directory with
// only config.json.tmp (as `drover dev` killed with SIGKILL did), is
// restarted on the same data dir: the pod runs to its end instead of staying
// ContainerCreating with "cannot start container: container not found".
func TestRestartOverHalfCreatedContainer(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	dataDir := t.TempDir()
	pod := newPod("n1", "half", "echo done")
	half := filepath.Join(dataDir, "containers", ContainerID(pod.Metadata.Uid, "main", 0))
	if err := os.MkdirAll(half, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "config.json.tmp"), []byte(`{"id":"`), 0o600); err != nil {
		t.Fatal(err)
	}
	assign(t, st, pod)

	w := startWorker(t, cli, "n1", dataDir, nil)
	p := waitPhase(t, w.st, pod, PhaseSucceeded)
	if term := p.GetStatus().GetContainerStatuses()[0].GetState().GetTerminated(); term.GetExitCode() != 0 {
		t.Errorf("terminated: %v", term)
	}
}

// flakyRun is a Backend whose first failures calls of Run fail (a runtime
// that hiccups), as a fake over a real one.
type flakyRun struct {
	runtime.Backend
	mu       sync.Mutex
	failures int
}

var _ runtime.Backend = (*flakyRun)(nil)

func (f *flakyRun) Run(ctx context.Context, cfg *runtimev1.ContainerConfig) (*runtimev1.ContainerInfo, error) {
	f.mu.Lock()
	fail := f.failures > 0
	f.failures--
	f.mu.Unlock()
	if fail {
		return nil, errors.New("flaky: runtime unavailable")
	}
	return f.Backend.Run(ctx, cfg)
}

// TestFailedStartIsRetried (issue 13 #1; SPEC P2): a container start that
// fails (the runtime did not answer) is tried again, instead of leaving the
// pod ContainerCreating until something else wakes its worker.
func TestFailedStartIsRetried(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	dataDir := t.TempDir()
	proc, err := process.New(process.Config{Root: filepath.Join(dataDir, "containers")})
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyRun{Backend: proc, failures: 2}
	w := startWorker(t, cli, "n1", dataDir, func(c *Config) { c.Runtime, c.RuntimeName = flaky, process.Name })
	pod := newPod("n1", "flaky", "echo done")
	assign(t, w.st, pod)
	waitPhase(t, w.st, pod, PhaseSucceeded)
}

// TestFencedBeforeStartEndsFailed (issue 13 #1; SPEC N4, J11): a pod whose
// container was never created when its node fenced ends Failed with reason
// NodeFenced (and DisruptionTarget), so that its Job replaces it, instead
// of staying Pending for good.
func TestFencedBeforeStartEndsFailed(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	dataDir := t.TempDir()
	proc, err := process.New(process.Config{Root: filepath.Join(dataDir, "containers")})
	if err != nil {
		t.Fatal(err)
	}
	down := &flakyRun{Backend: proc, failures: 1 << 30} // never starts anything
	w := startWorker(t, cli, "n1", dataDir, func(c *Config) { c.Runtime, c.RuntimeName = down, process.Name })
	pod := newPod("n1", "fenced", "echo done")
	assign(t, w.st, pod)
	eventually(t, "the pod's worker", func() bool {
		w.pods.mu.Lock()
		defer w.pods.mu.Unlock()
		return w.pods.pods[pod.Metadata.Uid] != nil
	})
	w.pods.fence(testCtx(t))
	p := waitPhase(t, w.st, pod, PhaseFailed)
	if p.GetStatus().GetReason() != ReasonNodeFenced {
		t.Errorf("reason %q, want %s", p.GetStatus().GetReason(), ReasonNodeFenced)
	}
	if term := p.GetStatus().GetContainerStatuses()[0].GetState().GetTerminated(); term.GetReason() != ReasonNeverStarted {
		t.Errorf("container: %v", term)
	}
}
