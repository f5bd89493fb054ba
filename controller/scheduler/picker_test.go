package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The heap picker binds exactly as pick would, pod after pod, over random
// fleets and pods (SPEC S1: feasible node, least loaded, same tie-breaks),
// including unschedulable pods and their reasons.
func TestPickerMatchesPick(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	caps := []map[string]string{
		{"cpu": "2", "memory": "4Gi", "pods": "5"},
		{"cpu": "4", "memory": "2Gi", "pods": "8"},
		{"cpu": "1", "pods": "3"},
		{"memory": "1Gi"},
	}
	labels := []map[string]string{nil, {"disk": "ssd"}, {"disk": "ssd", "zone": "z1"}, {"zone": "z1"}}
	cpus := []string{"", "100m", "500m", "1"}
	mems := []string{"", "128Mi", "512Mi"}
	sels := []map[string]string{nil, nil, {"disk": "ssd"}, {"zone": "z1"}}
	for round := range 40 {
		var a, b []*nodeInfo
		for i := range 1 + rng.IntN(12) {
			name := fmt.Sprintf("n%02d", i)
			c, l := caps[rng.IntN(len(caps))], labels[rng.IntN(len(labels))]
			used := resources{pods: int64(rng.IntN(3))}
			a = append(a, ni(name, c, l, used))
			b = append(b, ni(name, c, l, used))
		}
		// Candidates come in no order (the scheduler does not sort
		// them): both must break ties by name whatever the order.
		rng.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
		rng.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
		pk := newPicker(b)
		for i := range 60 {
			p := podReq(cpus[rng.IntN(len(cpus))], mems[rng.IntN(len(mems))], sels[rng.IntN(len(sels))])
			req := podRequests(p)
			want, wantWhy := pick(a, p, req)
			got, gotWhy := pk.pick(p, req)
			if (want == nil) != (got == nil) || want != nil && want.node.GetMetadata().GetName() != got.node.GetMetadata().GetName() || wantWhy != gotWhy {
				t.Fatalf("round %d pod %d: pick chose %v %q, picker %v %q", round, i, name(want), wantWhy, name(got), gotWhy)
			}
			if want != nil {
				want.used.cpuMilli += req.cpuMilli
				want.used.memory += req.memory
				want.used.pods += req.pods
				pk.bind(got, req)
			}
		}
	}
}

func name(n *nodeInfo) string {
	if n == nil {
		return "<none>"
	}
	return n.node.GetMetadata().GetName()
}
