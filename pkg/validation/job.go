package validation

import (
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
)

// Limits on Job fields, as in Kubernetes.
const (
	// MaxJobNameLength bounds a Job's name: it is the value of its pods'
	// job-name label, and a label value has at most 63 characters.
	MaxJobNameLength = 63
	// MaxPodFailurePolicyRules bounds spec.podFailurePolicy.rules (SPEC J15).
	MaxPodFailurePolicyRules = 20
	// MaxSuccessPolicyRules bounds spec.successPolicy.rules.
	MaxSuccessPolicyRules = 20
	// MaxIndexedCompletions bounds completions and parallelism of an Indexed Job.
	MaxIndexedCompletions = 100_000
	// MaxExitCodeValues bounds onExitCodes.values.
	MaxExitCodeValues = 255
)

// Job label keys that a generated selector (SPEC J14) uses.
const (
	LabelJobName       = "job-name"
	LabelControllerUID = "controller-uid"
)

// ValidateJob checks a Job as it is submitted (SPEC O1, O4, J1-J18) and
// returns nil or an ErrorList naming every bad field. Run it after
// DefaultJob: an unset namespace is allowed, but fields that DefaultJob
// fills in (completions of an Indexed Job, for one) are checked as they are.
// Status is not checked. A spec.selector without spec.manualSelector is
// accepted only when it is the generated one, whose controller-uid label is
// the Job's uid (so a stored Job passes again on update).
func ValidateJob(job *v1.Job) error {
	e := &errs{}
	if job == nil {
		e.add("", "no job given", nil)
		return e.list.Err()
	}
	if av := job.GetApiVersion(); av != "" && av != "batch/v1" {
		e.add("apiVersion", fmt.Sprintf("unknown value %q: must be batch/v1", av), av)
	}
	if k := job.GetKind(); k != "" && k != "Job" {
		e.add("kind", fmt.Sprintf("unknown value %q: must be Job", k), k)
	}
	validateObjectMeta(e, "metadata", job.GetMetadata(), MaxJobNameLength)
	validateJobSpec(e, "spec", job)
	return e.list.Err()
}

func validateJobSpec(e *errs, p path, job *v1.Job) {
	s := job.GetSpec()
	if s == nil {
		e.add(p, "required", nil)
		return
	}
	nonNegative32 := func(name string, v *int32) {
		if v != nil && *v < 0 {
			e.add(p.child(name), "must be >= 0", *v)
		}
	}
	nonNegative32("parallelism", s.Parallelism)
	nonNegative32("completions", s.Completions)
	nonNegative32("backoffLimit", s.BackoffLimit)
	nonNegative32("backoffLimitPerIndex", s.BackoffLimitPerIndex)
	nonNegative32("maxFailedIndexes", s.MaxFailedIndexes)
	nonNegative32("ttlSecondsAfterFinished", s.TtlSecondsAfterFinished)
	if s.ActiveDeadlineSeconds != nil && s.GetActiveDeadlineSeconds() <= 0 {
		e.add(p.child("activeDeadlineSeconds"), "must be > 0", s.GetActiveDeadlineSeconds())
	}

	indexed := false
	switch m := s.GetCompletionMode(); m {
	case "", "NonIndexed":
	case "Indexed":
		indexed = true
		switch {
		case s.Completions == nil:
			e.add(p.child("completions"), "required when completionMode is Indexed", nil)
		case s.GetCompletions() > MaxIndexedCompletions:
			e.add(p.child("completions"), fmt.Sprintf("must be <= %d when completionMode is Indexed", MaxIndexedCompletions), s.GetCompletions())
		}
		if s.GetParallelism() > MaxIndexedCompletions {
			e.add(p.child("parallelism"), fmt.Sprintf("must be <= %d when completionMode is Indexed", MaxIndexedCompletions), s.GetParallelism())
		}
	default:
		e.add(p.child("completionMode"), unknownValue(m, "NonIndexed", "Indexed"), m)
	}

	if s.BackoffLimitPerIndex != nil && !indexed {
		e.add(p.child("backoffLimitPerIndex"), "requires completionMode Indexed", s.GetBackoffLimitPerIndex())
	}
	if s.MaxFailedIndexes != nil {
		switch {
		case s.BackoffLimitPerIndex == nil:
			e.add(p.child("maxFailedIndexes"), "requires backoffLimitPerIndex", s.GetMaxFailedIndexes())
		case s.Completions != nil && s.GetMaxFailedIndexes() > s.GetCompletions():
			e.add(p.child("maxFailedIndexes"), "must be <= completions", s.GetMaxFailedIndexes())
		}
	}

	switch rp := s.GetPodReplacementPolicy(); rp {
	case "", "Failed":
	case "TerminatingOrFailed":
		if s.GetPodFailurePolicy() != nil {
			e.add(p.child("podReplacementPolicy"), "must be Failed when podFailurePolicy is set", rp)
		}
	default:
		e.add(p.child("podReplacementPolicy"), unknownValue(rp, "Failed", "TerminatingOrFailed"), rp)
	}

	tp := p.child("template")
	tmpl := s.GetTemplate()
	if tmpl == nil {
		e.add(tp, "required", nil)
	} else {
		validateLabels(e, tp.child("metadata").child("labels"), tmpl.GetMetadata().GetLabels())
		validatePodSpec(e, tp.child("spec"), tmpl.GetSpec())
		validateTemplateSize(e, tp, tmpl)
		if tmpl.GetSpec() != nil {
			switch rp := tmpl.GetSpec().GetRestartPolicy(); rp {
			case "Never", "OnFailure":
			case "":
				e.add(tp.child("spec").child("restartPolicy"), "required: must be Never or OnFailure", rp)
			case "Always":
				e.add(tp.child("spec").child("restartPolicy"), `unsupported value "Always": must be Never or OnFailure`, rp)
			default:
				e.add(tp.child("spec").child("restartPolicy"), unknownValue(rp, "Never", "OnFailure"), rp)
			}
		}
	}

	validateSelector(e, p, job)
	validatePodFailurePolicy(e, p, s)
	validateSuccessPolicy(e, p, s, indexed)

	seen := map[string]bool{}
	for i, d := range s.GetDependsOn() {
		dp := p.child("dependsOn").index(i)
		switch {
		case d == "":
			e.add(dp, "required", d)
		case IsDNS1123Subdomain(d) != "":
			e.add(dp, fmt.Sprintf("invalid value %q: %s", d, IsDNS1123Subdomain(d)), d)
		case d == job.GetMetadata().GetName():
			e.add(dp, "a Job cannot depend on itself", d)
		case seen[d]:
			e.add(dp, fmt.Sprintf("duplicate value %q", d), d)
		}
		seen[d] = true
	}
}

func validateSelector(e *errs, p path, job *v1.Job) {
	s := job.GetSpec()
	sp := p.child("selector")
	if !s.GetManualSelector() {
		if sel := s.GetSelector(); sel != nil {
			uid := job.GetMetadata().GetUid()
			if uid == "" || sel.GetMatchLabels()[LabelControllerUID] != uid {
				e.add(sp, "may be set only with spec.manualSelector: true (it is generated from the Job's uid)", nil)
				return
			}
			validateLabelSelector(e, sp, sel)
		}
		return
	}
	sel := s.GetSelector()
	if sel == nil || (len(sel.GetMatchLabels()) == 0 && len(sel.GetMatchExpressions()) == 0) {
		e.add(sp, "required when manualSelector is true", nil)
		return
	}
	before := len(e.list)
	validateLabelSelector(e, sp, sel)
	if len(e.list) > before {
		return
	}
	ls, err := labels.FromLabelSelector(sel)
	if err != nil {
		e.add(sp, err.Error(), nil)
		return
	}
	if !ls.Matches(s.GetTemplate().GetMetadata().GetLabels()) {
		e.add(sp, "does not match spec.template.metadata.labels", ls.String())
	}
}

func validatePodFailurePolicy(e *errs, p path, s *v1.JobSpec) {
	pfp := s.GetPodFailurePolicy()
	if pfp == nil {
		return
	}
	pp := p.child("podFailurePolicy")
	if s.GetTemplate().GetSpec().GetRestartPolicy() == "OnFailure" {
		e.add(pp, "not allowed when spec.template.spec.restartPolicy is OnFailure", nil)
	}
	rules := pfp.GetRules()
	if len(rules) > MaxPodFailurePolicyRules {
		e.add(pp.child("rules"), fmt.Sprintf("must have at most %d rules", MaxPodFailurePolicyRules), len(rules))
		return
	}
	containers := map[string]bool{}
	for _, c := range s.GetTemplate().GetSpec().GetContainers() {
		containers[c.GetName()] = true
	}
	for i, r := range rules {
		rp := pp.child("rules").index(i)
		switch a := r.GetAction(); a {
		case "FailJob", "Ignore", "Count":
		case "FailIndex":
			if s.BackoffLimitPerIndex == nil {
				e.add(rp.child("action"), "FailIndex requires spec.backoffLimitPerIndex", a)
			}
		default:
			e.add(rp.child("action"), unknownValue(a, "FailJob", "Ignore", "Count", "FailIndex"), a)
		}
		codes, conds := r.GetOnExitCodes(), r.GetOnPodConditions()
		switch {
		case codes == nil && len(conds) == 0:
			e.add(rp, "must set one of onExitCodes or onPodConditions", nil)
		case codes != nil && len(conds) > 0:
			e.add(rp, "must set only one of onExitCodes or onPodConditions", nil)
		}
		if codes != nil {
			cp := rp.child("onExitCodes")
			if codes.ContainerName != nil && !containers[codes.GetContainerName()] {
				e.add(cp.child("containerName"), fmt.Sprintf("unknown container %q", codes.GetContainerName()), codes.GetContainerName())
			}
			op := codes.GetOperator()
			if op != "In" && op != "NotIn" {
				e.add(cp.child("operator"), unknownValue(op, "In", "NotIn"), op)
			}
			vals := codes.GetValues()
			switch {
			case len(vals) == 0:
				e.add(cp.child("values"), "must have at least one value", nil)
			case len(vals) > MaxExitCodeValues:
				e.add(cp.child("values"), fmt.Sprintf("must have at most %d values", MaxExitCodeValues), len(vals))
			}
			seen := map[int32]bool{}
			for j, v := range vals {
				switch {
				case op == "In" && v == 0:
					e.add(cp.child("values").index(j), "must not be 0 for operator In", v)
				case seen[v]:
					e.add(cp.child("values").index(j), fmt.Sprintf("duplicate value %d", v), v)
				}
				seen[v] = true
			}
		}
		for j, c := range conds {
			cp := rp.child("onPodConditions").index(j)
			if c.GetType() == "" {
				e.add(cp.child("type"), "required", nil)
			} else if err := labels.ValidateKey(c.GetType()); err != nil {
				e.add(cp.child("type"), fmt.Sprintf("invalid value %q: %v", c.GetType(), err), c.GetType())
			}
			switch st := c.GetStatus(); st {
			case "", "True", "False", "Unknown":
			default:
				e.add(cp.child("status"), unknownValue(st, "True", "False", "Unknown"), st)
			}
		}
	}
}

func validateSuccessPolicy(e *errs, p path, s *v1.JobSpec, indexed bool) {
	sp := s.GetSuccessPolicy()
	if sp == nil {
		return
	}
	pp := p.child("successPolicy")
	if !indexed {
		e.add(pp, "requires completionMode Indexed", nil)
		return
	}
	rules := sp.GetRules()
	switch {
	case len(rules) == 0:
		e.add(pp.child("rules"), "must have at least one rule", nil)
	case len(rules) > MaxSuccessPolicyRules:
		e.add(pp.child("rules"), fmt.Sprintf("must have at most %d rules", MaxSuccessPolicyRules), len(rules))
		return
	}
	completions := s.GetCompletions()
	for i, r := range rules {
		rp := pp.child("rules").index(i)
		if r.SucceededIndexes == nil && r.SucceededCount == nil {
			e.add(rp, "must set succeededIndexes or succeededCount", nil)
			continue
		}
		size := completions
		if r.SucceededIndexes != nil {
			n, err := countIndexes(r.GetSucceededIndexes(), completions)
			if err != nil {
				e.add(rp.child("succeededIndexes"), fmt.Sprintf("invalid value %q: %v", r.GetSucceededIndexes(), err), r.GetSucceededIndexes())
				continue
			}
			size = n
		}
		if r.SucceededCount != nil {
			switch c := r.GetSucceededCount(); {
			case c <= 0:
				e.add(rp.child("succeededCount"), "must be > 0", c)
			case c > size:
				e.add(rp.child("succeededCount"), fmt.Sprintf("must be <= %d, the number of indexes it counts", size), c)
			}
		}
	}
}

// countIndexes parses an index set such as "0-3,7,9-10" (ascending, not
// overlapping, each index below completions) and returns how many it holds.
func countIndexes(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, fmt.Errorf("must be non-empty")
	}
	var n int32
	last := int64(-1)
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 32)
		if err != nil || a < 0 {
			return 0, fmt.Errorf("%q is not an index or a range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 32); err != nil || b < a {
				return 0, fmt.Errorf("%q is not an index or a range", part)
			}
		}
		if a <= last {
			return 0, fmt.Errorf("indexes must be ascending and not overlap")
		}
		if b >= int64(completions) {
			return 0, fmt.Errorf("index %d is not below completions %d", b, completions)
		}
		last = b
		n += int32(b - a + 1)
	}
	return n, nil
}
