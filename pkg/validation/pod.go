package validation

import (
	"fmt"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/quantity"
)

// validatePodSpec checks the parts of a pod spec a user writes (SPEC P1).
// Job rules on restartPolicy are checked by the caller.
func validatePodSpec(e *errs, p path, s *v1.PodSpec) {
	if s == nil {
		e.add(p, "required", nil)
		return
	}
	cp := p.child("containers")
	if len(s.GetContainers()) == 0 {
		e.add(cp, "must have at least one container", nil)
	}
	seen := map[string]bool{}
	for i, c := range s.GetContainers() {
		validateContainer(e, cp.index(i), c)
		if c.GetName() != "" {
			if seen[c.GetName()] {
				e.add(cp.index(i).child("name"), fmt.Sprintf("duplicate name %q", c.GetName()), c.GetName())
			}
			seen[c.GetName()] = true
		}
	}
	validateLabels(e, p.child("nodeSelector"), s.GetNodeSelector())
	if s.TerminationGracePeriodSeconds != nil && s.GetTerminationGracePeriodSeconds() < 0 {
		e.add(p.child("terminationGracePeriodSeconds"), "must be >= 0", s.GetTerminationGracePeriodSeconds())
	}
	if s.ActiveDeadlineSeconds != nil && s.GetActiveDeadlineSeconds() <= 0 {
		e.add(p.child("activeDeadlineSeconds"), "must be > 0", s.GetActiveDeadlineSeconds())
	}
	if h := s.GetHostname(); h != "" {
		if msg := IsDNS1123Label(h); msg != "" {
			e.add(p.child("hostname"), fmt.Sprintf("invalid value %q: %s", h, msg), h)
		}
	}
	if d := s.GetSubdomain(); d != "" {
		if msg := IsDNS1123Label(d); msg != "" {
			e.add(p.child("subdomain"), fmt.Sprintf("invalid value %q: %s", d, msg), d)
		}
	}
}

func validateContainer(e *errs, p path, c *v1.Container) {
	if c == nil {
		e.add(p, "required", nil)
		return
	}
	if c.GetName() == "" {
		e.add(p.child("name"), "required", nil)
	} else if msg := IsDNS1123Label(c.GetName()); msg != "" {
		e.add(p.child("name"), fmt.Sprintf("invalid value %q: %s", c.GetName(), msg), c.GetName())
	}
	switch img := c.GetImage(); {
	case img == "":
		e.add(p.child("image"), "required", nil)
	case strings.TrimSpace(img) != img || strings.ContainsAny(img, " \t\n"):
		e.add(p.child("image"), fmt.Sprintf("invalid value %q: must not contain spaces", img), img)
	}
	switch pp := c.GetImagePullPolicy(); pp {
	case "", "Always", "IfNotPresent", "Never":
	default:
		e.add(p.child("imagePullPolicy"), unknownValue(pp, "Always", "IfNotPresent", "Never"), pp)
	}
	for i, ev := range c.GetEnv() {
		if ev.GetName() == "" {
			e.add(p.child("env").index(i).child("name"), "required", nil)
		} else if !envNameRE.MatchString(ev.GetName()) {
			e.add(p.child("env").index(i).child("name"), fmt.Sprintf("invalid value %q: must consist of alphabetic characters, digits, '_', '-' or '.', and must not start with a digit", ev.GetName()), ev.GetName())
		}
	}
	validateResources(e, p.child("resources"), c.GetResources())
}

// validateResources checks quantities exactly and that no limit is below its request.
func validateResources(e *errs, p path, r *v1.ResourceRequirements) {
	if r == nil {
		return
	}
	parse := func(m map[string]string, mp path) map[string]int64 {
		out := map[string]int64{}
		for _, name := range sortedKeys(m) {
			kp := mp.key(name)
			if !validResourceName(name) {
				e.add(kp, fmt.Sprintf("unknown resource %q: must be cpu, memory, ephemeral-storage or a domain-qualified name", name), name)
				continue
			}
			v, err := quantity.Milli(m[name])
			switch {
			case err != nil:
				e.add(kp, fmt.Sprintf("invalid quantity %q: must be a non-negative number with an optional suffix such as 500m, 2, 128Mi or 1Gi", m[name]), m[name])
			default:
				out[name] = v
			}
		}
		return out
	}
	req := parse(r.GetRequests(), p.child("requests"))
	lim := parse(r.GetLimits(), p.child("limits"))
	for _, name := range sortedKeys(r.GetRequests()) {
		rv, ok1 := req[name]
		lv, ok2 := lim[name]
		if ok1 && ok2 && rv > lv {
			e.add(p.child("requests").key(name), fmt.Sprintf("must be less than or equal to the %s limit %s", name, r.GetLimits()[name]), r.GetRequests()[name])
		}
	}
}

func validResourceName(name string) bool {
	switch name {
	case "cpu", "memory", "ephemeral-storage":
		return true
	}
	return strings.Contains(name, "/") && labels.ValidateKey(name) == nil
}
