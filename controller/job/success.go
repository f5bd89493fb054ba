package job

import v1 "github.com/drover-dev/drover/pkg/api/drover/v1"

// Success policy (SPEC J16).
const (
	CondSuccessCriteriaMet = "SuccessCriteriaMet"
	ReasonSuccessPolicy    = "SuccessPolicy"
)

// successRule returns the index of the first rule of an Indexed Job's
// success policy that the completed indexes satisfy, or -1. A rule with
// succeededIndexes alone needs all of them; with succeededCount alone that
// many completed indexes; with both that many among the listed indexes.
func successRule(spec *v1.JobSpec, completed indexSet) int {
	for i, r := range spec.GetSuccessPolicy().GetRules() {
		switch {
		case r.SucceededIndexes != nil:
			set := parseIndexes(r.GetSucceededIndexes())
			if len(set) == 0 {
				continue
			}
			n := int32(0)
			for idx := range set {
				if completed[idx] {
					n++
				}
			}
			if (r.SucceededCount != nil && n >= r.GetSucceededCount()) || (r.SucceededCount == nil && int(n) == len(set)) {
				return i
			}
		case r.SucceededCount != nil:
			if int32(len(completed)) >= r.GetSucceededCount() {
				return i
			}
		}
	}
	return -1
}
