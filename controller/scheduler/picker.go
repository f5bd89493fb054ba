package scheduler

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// picker makes pick's choice for many pods in one pass without scanning
// every node for every pod: pods with the same requests and node selector
// form a class, and each class keeps a heap of its matching nodes ordered
// as pick orders them (load after adding the request, then pods in use,
// then name). Usage only grows within a pass, so an entry whose node has
// been bound to since it was pushed is re-keyed when it reaches the top
// (its true key can only be larger). A node that does not fit a class is
// dropped from that class's heap: it will not fit later in the pass either.
// With n nodes and p pods it costs O(p log n) instead of pick's O(p × n).
type picker struct {
	nodes   []*nodeInfo
	version map[*nodeInfo]int
	classes map[string]*nodeHeap
}

func newPicker(nodes []*nodeInfo) *picker {
	return &picker{nodes: nodes, version: map[*nodeInfo]int{}, classes: map[string]*nodeHeap{}}
}

// pick returns what pick(nodes, p, req) would, given the bindings made so
// far through bind.
func (pk *picker) pick(p *v1.Pod, req resources) (*nodeInfo, string) {
	sel := p.GetSpec().GetNodeSelector()
	key := classKey(req, sel)
	h, ok := pk.classes[key]
	if !ok {
		h = &nodeHeap{req: req}
		for _, n := range pk.nodes {
			if matches(sel, n.node.GetMetadata().GetLabels()) {
				h.items = append(h.items, pk.entry(n, req))
			}
		}
		heap.Init(h)
		pk.classes[key] = h
	}
	for h.Len() > 0 {
		top := h.items[0]
		if top.version != pk.version[top.n] {
			h.items[0] = pk.entry(top.n, req)
			heap.Fix(h, 0)
			continue
		}
		if !top.n.fits(req) {
			heap.Pop(h)
			continue
		}
		return top.n, ""
	}
	return pick(pk.nodes, p, req) // nothing fits: pick says why
}

// bind records that n took req.
func (pk *picker) bind(n *nodeInfo, req resources) {
	n.used.cpuMilli += req.cpuMilli
	n.used.memory += req.memory
	n.used.pods += req.pods
	pk.version[n]++
}

func (pk *picker) entry(n *nodeInfo, req resources) heapEntry {
	return heapEntry{n: n, load: n.load(req), pods: n.used.pods, version: pk.version[n]}
}

func classKey(req resources, sel map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d/%d", req.cpuMilli, req.memory, req.pods)
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%s=%s", k, sel[k])
	}
	return b.String()
}

type heapEntry struct {
	n       *nodeInfo
	load    float64
	pods    int64
	version int
}

type nodeHeap struct {
	req   resources
	items []heapEntry
}

func (h *nodeHeap) Len() int { return len(h.items) }
func (h *nodeHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.load != b.load {
		return a.load < b.load
	}
	if a.pods != b.pods {
		return a.pods < b.pods
	}
	return a.n.node.GetMetadata().GetName() < b.n.node.GetMetadata().GetName()
}
func (h *nodeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *nodeHeap) Push(x any)    { h.items = append(h.items, x.(heapEntry)) }
func (h *nodeHeap) Pop() any {
	old := h.items
	it := old[len(old)-1]
	h.items = old[:len(old)-1]
	return it
}
