package validation

import (
	"strings"
	"testing"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// TestTemplateSizeB1: a template that could never be stored with its pods
// (a 1 MiB env value) is refused at admission, naming the template, the
// limit and the value at fault; one just under the limit is accepted
// (issue 13 #4, SPEC B1, O4).
func TestTemplateSizeB1(t *testing.T) {
	big := func(n int) *v1.Job {
		j := validJob()
		j.Spec.Template.Spec.Containers[0].Env = append(j.Spec.Template.Spec.Containers[0].Env,
			&v1.EnvVar{Name: "BLOB", Value: strings.Repeat("x", n)})
		return j
	}
	err := ValidateJob(big(1 << 20))
	l, ok := AsErrorList(err)
	if !ok || len(l) != 1 {
		t.Fatalf("1 MiB env value: %v", err)
	}
	if l[0].Field != "spec.template" ||
		!strings.Contains(l[0].Detail, "at most 262144 bytes") ||
		!strings.Contains(l[0].Detail, "spec.template.spec.containers[0].env[1].value, 1048576 bytes") {
		t.Errorf("error %q", l[0])
	}
	if err := ValidateJob(big(MaxPodTemplateBytes - 4096)); err != nil {
		t.Errorf("a template under the limit: %v", err)
	}

	// The same bound for a CronJob's Job template and a DaemonSet's template.
	cj := &v1.CronJob{ApiVersion: "batch/v1", Kind: "CronJob", Metadata: &v1.ObjectMeta{Name: "c"},
		Spec: &v1.CronJobSpec{Schedule: "@hourly", JobTemplate: &v1.JobTemplateSpec{Spec: big(1 << 20).Spec}}}
	DefaultCronJob(cj)
	if l, _ := AsErrorList(ValidateCronJob(cj)); len(l) != 1 || l[0].Field != "spec.jobTemplate.spec.template" {
		t.Errorf("cronjob: %v", l)
	}
	tmpl := big(1 << 20).Spec.Template
	tmpl.Spec.RestartPolicy = "Always"
	tmpl.Metadata = &v1.ObjectMeta{Labels: map[string]string{"app": "d"}, Annotations: map[string]string{"note": strings.Repeat("y", 300<<10)}}
	tmpl.Spec.Containers[0].Env = nil
	ds := &v1.DaemonSet{ApiVersion: "apps/v1", Kind: "DaemonSet", Metadata: &v1.ObjectMeta{Name: "d"},
		Spec: &v1.DaemonSetSpec{Selector: &v1.LabelSelector{MatchLabels: map[string]string{"app": "d"}}, Template: tmpl}}
	DefaultDaemonSet(ds)
	l, _ = AsErrorList(ValidateDaemonSet(ds))
	found := false
	for _, fe := range l {
		if fe.Field == "spec.template" && strings.Contains(fe.Detail, "spec.template.metadata.annotations[note]") {
			found = true
		}
	}
	if !found {
		t.Errorf("daemonset: %v", l)
	}
}
