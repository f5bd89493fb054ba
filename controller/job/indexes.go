package job

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// indexSet is a set of completion indexes (SPEC J4).
type indexSet map[int]bool

// parseIndexes reads the range form "0-3,7" of status.completedIndexes.
// Malformed parts are skipped: the field is written only by the controller.
func parseIndexes(s string) indexSet {
	out := indexSet{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i-a < 1<<24; i++ {
			out[i] = true
		}
	}
	return out
}

// String renders the set in range form: "0-3,7".
func (s indexSet) String() string {
	if len(s) == 0 {
		return ""
	}
	idx := make([]int, 0, len(s))
	for i := range s {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j == i {
			fmt.Fprintf(&b, "%d", idx[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", idx[i], idx[j])
		}
		i = j + 1
	}
	return b.String()
}

// podIndex returns a pod's completion index, or -1.
func podIndex(annotations map[string]string) int {
	v, ok := annotations[AnnotationIndex]
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}
