package apiserver

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	jobctl "github.com/drover-dev/drover/controller/job"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// SPEC J12, J14: an orphan delete leaves every pod of the Job in place
// without its owner reference and tracking finalizer, deletes the Job, and
// leaves other owners' pods alone; with more pods than one transaction
// holds it works in batches, the last one together with the Job's delete.
func TestDeleteJobOrphan(t *testing.T) {
	for _, n := range []int{3, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := newTestServer(t)
			ctx := context.Background()
			resp, err := s.CreateJob(ctx, &v1.CreateJobRequest{Job: &v1.Job{Metadata: &v1.ObjectMeta{Name: "old"}, Spec: &v1.JobSpec{Template: podTemplate("Never")}}})
			if err != nil {
				t.Fatal(err)
			}
			uid := resp.Job.Metadata.Uid
			pod := func(name, owner string) *v1.Pod {
				return &v1.Pod{Metadata: &v1.ObjectMeta{Name: name, Namespace: "default",
					Labels:          map[string]string{jobctl.LabelControllerUID: owner},
					Finalizers:      []string{jobctl.FinalizerTracking},
					OwnerReferences: []*v1.OwnerReference{{Kind: "Job", Name: "j", Uid: owner, Controller: proto.Bool(true)}},
				}, Spec: &v1.PodSpec{}}
			}
			tx := s.st.Txn().Create(pod("other", "other-uid"))
			for i := 0; i < n; i++ {
				if tx.Len() == store.MaxTxnOps {
					if _, err := tx.Commit(ctx); err != nil {
						t.Fatal(err)
					}
					tx = s.st.Txn()
				}
				tx.Create(pod(fmt.Sprintf("p%03d", i), uid))
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DeleteJob(ctx, &v1.DeleteJobRequest{Name: "old", Options: &v1.DeleteOptions{PropagationPolicy: "Orphan"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetJob(ctx, &v1.GetJobRequest{Name: "old"}); status.Code(err) != codes.NotFound {
				t.Fatalf("job after orphan delete: %v", err)
			}
			pods, _, err := s.st.Pods().List(ctx, "default")
			if err != nil {
				t.Fatal(err)
			}
			if len(pods) != n+1 {
				t.Fatalf("%d pods, want %d", len(pods), n+1)
			}
			for _, p := range pods {
				md := p.Metadata
				if md.Name == "other" {
					if len(md.OwnerReferences) != 1 || len(md.Finalizers) != 1 {
						t.Fatalf("another Job's pod changed: %v", md)
					}
					continue
				}
				if len(md.OwnerReferences) != 0 || len(md.Finalizers) != 0 || md.Labels[jobctl.LabelControllerUID] != uid {
					t.Fatalf("pod %s: owners %v finalizers %v labels %v", md.Name, md.OwnerReferences, md.Finalizers, md.Labels)
				}
			}
		})
	}
}
