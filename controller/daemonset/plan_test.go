package daemonset

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/validation"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func daemonSet(mod func(*v1.DaemonSet)) *v1.DaemonSet {
	ds := &v1.DaemonSet{
		Metadata: &v1.ObjectMeta{Name: "agent", Namespace: "default", Uid: "ds-uid", Generation: 1},
		Spec: &v1.DaemonSetSpec{
			Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &v1.PodTemplateSpec{
				Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:     &v1.PodSpec{Containers: []*v1.Container{{Name: "a", Image: "agent:1"}}},
			},
		},
	}
	if mod != nil {
		mod(ds)
	}
	validation.DefaultDaemonSet(ds)
	return ds
}

func node(name string, alive bool, labels map[string]string) NodeInfo {
	return NodeInfo{Node: &v1.Node{Metadata: &v1.ObjectMeta{Name: name, Labels: labels}}, Alive: alive}
}

// world runs plans against a simulated fleet: created pods become Running
// and Ready on the next tick; gracefully deleted pods disappear on the next
// tick.
type world struct {
	t     *testing.T
	ds    *v1.DaemonSet
	nodes []NodeInfo
	pods  map[string]*v1.Pod
	now   time.Time
	n     int
}

func newWorld(t *testing.T, ds *v1.DaemonSet, nodes ...NodeInfo) *world {
	return &world{t: t, ds: ds, nodes: nodes, pods: map[string]*v1.Pod{}, now: t0}
}

func (w *world) plan() *Plan {
	var pods []*v1.Pod
	for _, p := range w.pods {
		pods = append(pods, proto.Clone(p).(*v1.Pod))
	}
	return plan(w.ds, w.nodes, pods, w.now,
		func() string { w.n++; return fmt.Sprintf("agent-%d", w.n) },
		func() string { return fmt.Sprintf("uid-%d", w.n) })
}

func (w *world) apply(p *Plan) {
	w.ds.Status = p.Status
	for _, pod := range p.Create {
		if pod.Spec.NodeName == "" {
			w.t.Fatalf("pod %s created unbound", pod.Metadata.Name)
		}
		w.pods[pod.Metadata.Name] = pod
	}
	for _, d := range p.Delete {
		if d.Now {
			delete(w.pods, d.Pod.Metadata.Name)
		} else {
			w.pods[d.Pod.Metadata.Name].Metadata.DeletionTimestamp = timestamppb.New(w.now)
		}
	}
}

// tick lets time pass: pending pods run and become ready, deleted ones go.
func (w *world) tick(d time.Duration) {
	w.now = w.now.Add(d)
	for name, p := range w.pods {
		switch {
		case p.Metadata.DeletionTimestamp != nil:
			delete(w.pods, name)
		case p.Status.Phase == "Pending":
			p.Status.Phase = "Running"
			p.Status.Conditions = append(p.Status.Conditions, &v1.PodCondition{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.New(w.now)})
		}
	}
}

// layout is "node:image" for every pod not being deleted, sorted.
func (w *world) layout() string {
	var out []string
	for _, p := range w.pods {
		if p.Metadata.DeletionTimestamp == nil {
			out = append(out, p.Spec.NodeName+":"+p.Spec.Containers[0].Image)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// available counts nodes with a Running, Ready pod not being deleted.
func (w *world) available() int {
	nodes := map[string]bool{}
	for _, p := range w.pods {
		if p.Metadata.DeletionTimestamp == nil && !readySince(p).IsZero() {
			nodes[p.Spec.NodeName] = true
		}
	}
	return len(nodes)
}

// SPEC D1, D3: one pod on every live node matching the node selector,
// bound at creation; status counts them.
func TestOnePodPerEligibleNode(t *testing.T) {
	ds := daemonSet(func(d *v1.DaemonSet) { d.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} })
	w := newWorld(t, ds,
		node("n1", true, map[string]string{"disk": "ssd"}), node("n2", true, map[string]string{"disk": "ssd"}),
		node("n3", true, map[string]string{"disk": "hdd"}), node("n4", false, map[string]string{"disk": "ssd"}))
	p := w.plan()
	w.apply(p)
	if got := w.layout(); got != "n1:agent:1 n2:agent:1" {
		t.Fatalf("layout %q", got)
	}
	for _, pod := range p.Create {
		if pod.Metadata.Labels[LabelRevisionHash] != TemplateHash(ds) || pod.Metadata.OwnerReferences[0].Kind != "DaemonSet" || pod.Metadata.Labels[LabelControllerUID] != "ds-uid" {
			t.Fatalf("pod meta %v", pod.Metadata)
		}
	}
	st := p.Status
	if st.DesiredNumberScheduled != 2 || st.CurrentNumberScheduled != 2 || st.NumberReady != 0 || st.UpdatedNumberScheduled != 2 || st.NumberAvailable != 0 {
		t.Fatalf("status %v", st)
	}
	w.tick(time.Second)
	w.apply(w.plan())
	if st := w.ds.Status; st.NumberReady != 2 || st.NumberAvailable != 2 || st.NumberUnavailable != 0 || st.ObservedGeneration != 1 {
		t.Fatalf("status after ready %v", st)
	}
	// Nothing more to do: an idempotent plan.
	if p := w.plan(); len(p.Create)+len(p.Delete) != 0 {
		t.Fatalf("second plan acted: %v", p)
	}
}

// SPEC D1: a node that joins gets its pod; a lost node's pod is removed at
// once (no worker to stop it); a node whose labels stop matching has its
// pod stopped gracefully and counted misscheduled meanwhile.
func TestNodesJoinAndLeave(t *testing.T) {
	ds := daemonSet(func(d *v1.DaemonSet) { d.Spec.Template.Spec.NodeSelector = map[string]string{"role": "w"} })
	w := newWorld(t, ds, node("n1", true, map[string]string{"role": "w"}), node("n2", true, map[string]string{"role": "w"}))
	w.apply(w.plan())
	w.tick(time.Second)
	w.nodes = append(w.nodes, node("n3", true, map[string]string{"role": "w"}))
	w.apply(w.plan())
	if got := w.layout(); got != "n1:agent:1 n2:agent:1 n3:agent:1" {
		t.Fatalf("after join %q", got)
	}
	w.tick(time.Second)
	// n2 is lost (the node controller has failed its pod).
	w.nodes[1].Alive = false
	for _, p := range w.pods {
		if p.Spec.NodeName == "n2" {
			p.Status.Phase = "Failed"
		}
	}
	p := w.plan()
	if len(p.Delete) != 1 || !p.Delete[0].Now || p.Delete[0].Pod.Spec.NodeName != "n2" {
		t.Fatalf("lost node deletions %v", p.Delete)
	}
	w.apply(p)
	if st := w.ds.Status; st.DesiredNumberScheduled != 2 || st.CurrentNumberScheduled != 2 || st.NumberReady != 2 {
		t.Fatalf("status after loss %v", st)
	}
	// n3's label changes: its pod is stopped gracefully.
	w.nodes[2].Node.Metadata.Labels = map[string]string{"role": "db"}
	p = w.plan()
	if len(p.Delete) != 1 || p.Delete[0].Now || p.Delete[0].Pod.Spec.NodeName != "n3" || p.Status.NumberMisscheduled != 1 {
		t.Fatalf("misscheduled: %v %v", p.Delete, p.Status)
	}
}

// SPEC D1: a failed daemon pod is replaced after a backoff that doubles
// with consecutive failures on the node.
func TestFailedPodBackoff(t *testing.T) {
	w := newWorld(t, daemonSet(nil), node("n1", true, nil))
	w.apply(w.plan())
	w.tick(time.Second)
	for i, wantDelay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		var pod *v1.Pod
		for _, p := range w.pods {
			pod = p
		}
		pod.Status.Phase = "Failed"
		pod.Status.ContainerStatuses = []*v1.ContainerStatus{{Name: "a", State: &v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1, FinishedAt: timestamppb.New(w.now)}}}}
		p := w.plan()
		if len(p.Create) != 0 || p.RequeueAfter != wantDelay {
			t.Fatalf("failure %d: created %d, requeue %v, want %v", i+1, len(p.Create), p.RequeueAfter, wantDelay)
		}
		w.now = w.now.Add(wantDelay)
		p = w.plan()
		if len(p.Create) != 1 || len(p.Delete) != 1 || p.Create[0].Metadata.Annotations[AnnotationFailures] != fmt.Sprint(i+1) {
			t.Fatalf("failure %d: plan %v", i+1, p)
		}
		w.apply(p)
		w.tick(time.Second)
	}
	if FailureBackoff(20) != BackoffMax {
		t.Fatalf("backoff cap %v", FailureBackoff(20))
	}
}

func rollout(t *testing.T, w *world, maxUnavail, maxPods int) int {
	t.Helper()
	steps := 0
	for ; steps < 100; steps++ {
		p := w.plan()
		w.apply(p)
		if unavailable := len(w.nodes) - w.available(); unavailable > maxUnavail {
			t.Fatalf("step %d: %d nodes unavailable, max %d (%s)", steps, unavailable, maxUnavail, w.layout())
		}
		if len(w.pods) > maxPods {
			t.Fatalf("step %d: %d pods, max %d", steps, len(w.pods), maxPods)
		}
		if w.ds.Status.UpdatedNumberScheduled == int32(len(w.nodes)) && w.ds.Status.NumberAvailable == int32(len(w.nodes)) {
			return steps
		}
		w.tick(time.Second)
	}
	t.Fatalf("rollout did not finish: %s", w.layout())
	return 0
}

// SPEC D2: RollingUpdate replaces pods node by node, never more than
// maxUnavailable nodes without an available pod, and with maxSurge a new
// pod starts beside the old one, which goes once the new one is available.
func TestRollingUpdate(t *testing.T) {
	for _, tc := range []struct {
		name              string
		maxUnavail, surge string
		wantUnavail       int
		wantMaxPods       int
	}{
		{"maxUnavailable 1", "1", "0", 1, 5},
		{"maxUnavailable 2", "2", "0", 2, 5},
		{"maxUnavailable 40%", "40%", "0", 2, 5},
		{"maxSurge 1", "0", "1", 0, 6},
		{"maxSurge 2", "0", "2", 0, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := daemonSet(func(d *v1.DaemonSet) {
				d.Spec.UpdateStrategy = &v1.DaemonSetUpdateStrategy{Type: "RollingUpdate", RollingUpdate: &v1.RollingUpdateDaemonSet{MaxUnavailable: &tc.maxUnavail, MaxSurge: &tc.surge}}
			})
			var nodes []NodeInfo
			for i := 1; i <= 5; i++ {
				nodes = append(nodes, node(fmt.Sprintf("n%d", i), true, nil))
			}
			w := newWorld(t, ds, nodes...)
			w.apply(w.plan())
			w.tick(time.Second)
			w.apply(w.plan())
			w.ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
			w.ds.Metadata.Generation = 2
			steps := rollout(t, w, tc.wantUnavail, tc.wantMaxPods)
			if got := w.layout(); got != "n1:agent:2 n2:agent:2 n3:agent:2 n4:agent:2 n5:agent:2" {
				t.Fatalf("after rollout %q", got)
			}
			t.Logf("%s: %d steps", tc.name, steps)
		})
	}
}

// SPEC D2: OnDelete leaves old pods running after a template change and
// replaces a pod with the new template only once it is deleted.
func TestOnDelete(t *testing.T) {
	ds := daemonSet(func(d *v1.DaemonSet) { d.Spec.UpdateStrategy = &v1.DaemonSetUpdateStrategy{Type: "OnDelete"} })
	w := newWorld(t, ds, node("n1", true, nil), node("n2", true, nil))
	w.apply(w.plan())
	w.tick(time.Second)
	w.ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
	for i := 0; i < 3; i++ {
		p := w.plan()
		if len(p.Create)+len(p.Delete) != 0 {
			t.Fatalf("OnDelete acted on a template change: %v", p)
		}
		w.apply(p)
		w.tick(time.Second)
	}
	if st := w.ds.Status; st.UpdatedNumberScheduled != 0 || st.CurrentNumberScheduled != 2 {
		t.Fatalf("status %v", st)
	}
	for n, p := range w.pods {
		if p.Spec.NodeName == "n1" {
			delete(w.pods, n) // the user deleted it
		}
	}
	w.apply(w.plan())
	if got := w.layout(); got != "n1:agent:2 n2:agent:1" {
		t.Fatalf("after delete %q", got)
	}
}

// SPEC D1: two live pods on one node (a failover race, a manual copy):
// the extra one goes.
func TestDuplicatePods(t *testing.T) {
	w := newWorld(t, daemonSet(nil), node("n1", true, nil))
	p := w.plan()
	w.apply(p)
	dup := proto.Clone(p.Create[0]).(*v1.Pod)
	dup.Metadata.Name = "agent-dup"
	dup.Metadata.CreationTimestamp = timestamppb.New(t0.Add(time.Second))
	w.pods[dup.Metadata.Name] = dup
	p = w.plan()
	if len(p.Delete) != 1 || p.Delete[0].Pod.Metadata.Name != "agent-dup" {
		t.Fatalf("deletions %v", p.Delete)
	}
}

// SPEC D3: a pod counts as available only minReadySeconds after it became
// Ready; the controller wakes up then.
func TestMinReadySeconds(t *testing.T) {
	ds := daemonSet(func(d *v1.DaemonSet) { d.Spec.MinReadySeconds = proto.Int32(30) })
	w := newWorld(t, ds, node("n1", true, nil))
	w.apply(w.plan())
	w.tick(time.Second)
	p := w.plan()
	if p.Status.NumberReady != 1 || p.Status.NumberAvailable != 0 || p.RequeueAfter != 30*time.Second {
		t.Fatalf("status %v requeue %v", p.Status, p.RequeueAfter)
	}
	w.now = w.now.Add(30 * time.Second)
	if p := w.plan(); p.Status.NumberAvailable != 1 {
		t.Fatalf("status %v", p.Status)
	}
}
