package validation

import (
	"strings"
	"testing"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func validDaemonSet() *v1.DaemonSet {
	return &v1.DaemonSet{
		Metadata: &v1.ObjectMeta{Name: "agent", Namespace: "default"},
		Spec: &v1.DaemonSetSpec{
			Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &v1.PodTemplateSpec{
				Metadata: &v1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:     &v1.PodSpec{Containers: []*v1.Container{{Name: "a", Image: "busybox"}}},
			},
		},
	}
}

func TestValidateDaemonSet(t *testing.T) {
	ds := validDaemonSet()
	DefaultDaemonSet(ds)
	if err := ValidateDaemonSet(ds); err != nil {
		t.Fatal(err)
	}
	ru := ds.Spec.UpdateStrategy
	if ru.Type != "RollingUpdate" || ru.RollingUpdate.GetMaxUnavailable() != "1" || ru.RollingUpdate.GetMaxSurge() != "0" || ds.Spec.Template.Spec.RestartPolicy != "Always" {
		t.Fatalf("defaults: %v", ds.Spec)
	}
	for _, tc := range []struct {
		name string
		mod  func(*v1.DaemonSet)
		want string
	}{
		{"no selector", func(d *v1.DaemonSet) { d.Spec.Selector = nil }, "spec.selector: required"},
		{"selector mismatch", func(d *v1.DaemonSet) { d.Spec.Selector.MatchLabels["app"] = "x" }, "spec.selector: does not match spec.template.metadata.labels"},
		{"Never", func(d *v1.DaemonSet) { d.Spec.Template.Spec.RestartPolicy = "Never" }, `spec.template.spec.restartPolicy: unsupported value "Never": must be Always`},
		{"type", func(d *v1.DaemonSet) { d.Spec.UpdateStrategy.Type = "Recreate" }, `spec.updateStrategy.type: unknown value "Recreate"`},
		{"both zero", func(d *v1.DaemonSet) { d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr("0%") }, "spec.updateStrategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0"},
		{"bad value", func(d *v1.DaemonSet) { d.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr("x") }, `spec.updateStrategy.rollingUpdate.maxSurge: invalid value "x"`},
		{"over 100%", func(d *v1.DaemonSet) { d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr("150%") }, "must not be greater than 100%"},
		{"nodeName", func(d *v1.DaemonSet) { d.Spec.Template.Spec.NodeName = "n1" }, "spec.template.spec.nodeName: must not be set"},
	} {
		d := validDaemonSet()
		DefaultDaemonSet(d)
		tc.mod(d)
		err := ValidateDaemonSet(d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestScaledValue(t *testing.T) {
	for _, tc := range []struct {
		v      string
		total  int
		up     bool
		want   int
		hasErr bool
	}{
		{"1", 10, true, 1, false}, {"25%", 10, true, 3, false}, {"25%", 10, false, 2, false},
		{"100%", 3, true, 3, false}, {"0", 5, true, 0, false}, {"-1", 5, true, 0, true}, {"a%", 5, true, 0, true},
	} {
		got, err := ScaledValue(tc.v, tc.total, tc.up)
		if got != tc.want || (err != nil) != tc.hasErr {
			t.Errorf("ScaledValue(%q, %d, %v) = %d, %v", tc.v, tc.total, tc.up, got, err)
		}
	}
}
