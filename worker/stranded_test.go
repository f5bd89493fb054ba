package worker

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
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
