package validation

import (
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
)

// Defaults of DaemonSet fields, as in Kubernetes (SPEC D2).
const (
	DefaultMaxUnavailable       = "1"
	DefaultMaxSurge             = "0"
	DefaultRevisionHistoryLimit = 10
	// MaxDaemonSetNameLength bounds a DaemonSet's name: its pods are named
	// <daemonset>-<5 characters>.
	MaxDaemonSetNameLength = 63
)

// ScaledValue reads an int-or-string value ("3" or "25%") against total:
// a percentage is rounded up when roundUp is set and down otherwise, as
// Kubernetes' intstr.GetScaledValueFromIntOrPercent does. Negative values and
// percentages are errors.
func ScaledValue(v string, total int, roundUp bool) (int, error) {
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		n, err := strconv.Atoi(pct)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid value %q: must be an integer or a percentage such as 25%%", v)
		}
		if roundUp {
			return (n*total + 99) / 100, nil
		}
		return n * total / 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid value %q: must be a non-negative integer or a percentage such as 25%%", v)
	}
	return n, nil
}

// DefaultDaemonSet sets, in place, the defaults Kubernetes gives a
// DaemonSet (SPEC D2): apiVersion apps/v1, kind DaemonSet, namespace
// "default", updateStrategy RollingUpdate with maxUnavailable 1 and
// maxSurge 0, revisionHistoryLimit 10, the template's restartPolicy Always
// and terminationGracePeriodSeconds 30.
func DefaultDaemonSet(ds *v1.DaemonSet) {
	if ds == nil {
		return
	}
	if ds.ApiVersion == "" {
		ds.ApiVersion = "apps/v1"
	}
	if ds.Kind == "" {
		ds.Kind = "DaemonSet"
	}
	if ds.Metadata == nil {
		ds.Metadata = &v1.ObjectMeta{}
	}
	if ds.Metadata.Namespace == "" {
		ds.Metadata.Namespace = DefaultNamespace
	}
	if ds.Spec == nil {
		ds.Spec = &v1.DaemonSetSpec{}
	}
	s := ds.Spec
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &v1.DaemonSetUpdateStrategy{}
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = "RollingUpdate"
	}
	if s.UpdateStrategy.Type == "RollingUpdate" {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &v1.RollingUpdateDaemonSet{}
		}
		ru := s.UpdateStrategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = ptr(DefaultMaxUnavailable)
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = ptr(DefaultMaxSurge)
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = ptr[int32](DefaultRevisionHistoryLimit)
	}
	if s.MinReadySeconds == nil {
		s.MinReadySeconds = ptr[int32](0)
	}
	if ps := s.GetTemplate().GetSpec(); ps != nil {
		if ps.RestartPolicy == "" {
			ps.RestartPolicy = "Always"
		}
		if ps.TerminationGracePeriodSeconds == nil {
			ps.TerminationGracePeriodSeconds = ptr[int64](DefaultTerminationGracePeriodSeconds)
		}
	}
}

// ValidateDaemonSet checks a DaemonSet as submitted (SPEC O1, O4, D1-D3)
// and returns nil or an ErrorList naming every bad field. As in Kubernetes
// apps/v1, spec.selector is required and must match the template's labels,
// and the template's restartPolicy must be Always: a daemon pod is
// restarted in place whenever it exits.
func ValidateDaemonSet(ds *v1.DaemonSet) error {
	e := &errs{}
	if ds == nil {
		e.add("", "no daemonset given", nil)
		return e.list.Err()
	}
	if av := ds.GetApiVersion(); av != "" && av != "apps/v1" {
		e.add("apiVersion", fmt.Sprintf("unknown value %q: must be apps/v1", av), av)
	}
	if k := ds.GetKind(); k != "" && k != "DaemonSet" {
		e.add("kind", fmt.Sprintf("unknown value %q: must be DaemonSet", k), k)
	}
	validateObjectMeta(e, "metadata", ds.GetMetadata(), MaxDaemonSetNameLength)
	s := ds.GetSpec()
	p := path("spec")
	if s == nil {
		e.add(p, "required", nil)
		return e.list.Err()
	}
	tp := p.child("template")
	tmpl := s.GetTemplate()
	if tmpl == nil {
		e.add(tp, "required", nil)
	} else {
		validateLabels(e, tp.child("metadata").child("labels"), tmpl.GetMetadata().GetLabels())
		validatePodSpec(e, tp.child("spec"), tmpl.GetSpec())
		validateTemplateSize(e, tp, tmpl)
		if ps := tmpl.GetSpec(); ps != nil {
			if rp := ps.GetRestartPolicy(); rp != "" && rp != "Always" {
				e.add(tp.child("spec").child("restartPolicy"), fmt.Sprintf("unsupported value %q: must be Always", rp), rp)
			}
			if ps.GetNodeName() != "" {
				e.add(tp.child("spec").child("nodeName"), "must not be set: the DaemonSet places one pod on each eligible node", ps.GetNodeName())
			}
		}
	}
	sp := p.child("selector")
	sel := s.GetSelector()
	if sel == nil || (len(sel.GetMatchLabels()) == 0 && len(sel.GetMatchExpressions()) == 0) {
		e.add(sp, "required", nil)
	} else {
		before := len(e.list)
		validateLabelSelector(e, sp, sel)
		if len(e.list) == before {
			if ls, err := labels.FromLabelSelector(sel); err != nil {
				e.add(sp, err.Error(), nil)
			} else if !ls.Matches(tmpl.GetMetadata().GetLabels()) {
				e.add(sp, "does not match spec.template.metadata.labels", ls.String())
			}
		}
	}
	up := p.child("updateStrategy")
	us := s.GetUpdateStrategy()
	switch t := us.GetType(); t {
	case "", "RollingUpdate":
		ru := us.GetRollingUpdate()
		rp := up.child("rollingUpdate")
		mu, ms := -1, -1
		if ru.MaxUnavailable != nil {
			if n, err := ScaledValue(ru.GetMaxUnavailable(), 100, true); err != nil {
				e.add(rp.child("maxUnavailable"), err.Error(), ru.GetMaxUnavailable())
			} else {
				mu = n
				if strings.HasSuffix(ru.GetMaxUnavailable(), "%") && n > 100 {
					e.add(rp.child("maxUnavailable"), "must not be greater than 100%", ru.GetMaxUnavailable())
				}
			}
		}
		if ru.MaxSurge != nil {
			if n, err := ScaledValue(ru.GetMaxSurge(), 100, true); err != nil {
				e.add(rp.child("maxSurge"), err.Error(), ru.GetMaxSurge())
			} else {
				ms = n
				if strings.HasSuffix(ru.GetMaxSurge(), "%") && n > 100 {
					e.add(rp.child("maxSurge"), "must not be greater than 100%", ru.GetMaxSurge())
				}
			}
		}
		if mu == 0 && ms == 0 {
			e.add(rp.child("maxUnavailable"), "may not be 0 when maxSurge is 0", ru.GetMaxUnavailable())
		}
	case "OnDelete":
		if us.GetRollingUpdate() != nil {
			e.add(up.child("rollingUpdate"), "may be set only when type is RollingUpdate", nil)
		}
	default:
		e.add(up.child("type"), unknownValue(t, "RollingUpdate", "OnDelete"), t)
	}
	if s.MinReadySeconds != nil && s.GetMinReadySeconds() < 0 {
		e.add(p.child("minReadySeconds"), "must be >= 0", s.GetMinReadySeconds())
	}
	if s.RevisionHistoryLimit != nil && s.GetRevisionHistoryLimit() < 0 {
		e.add(p.child("revisionHistoryLimit"), "must be >= 0", s.GetRevisionHistoryLimit())
	}
	return e.list.Err()
}
