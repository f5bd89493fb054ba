package manifest_test

// Kubernetes manifest compatibility (SPEC O2): Job, CronJob and DaemonSet
// manifests written the way the Kubernetes documentation writes them
// (testdata/k8s/accept) parse, default and validate unchanged; manifests
// using fields Drover does not support (testdata/k8s/reject) are refused
// with every such field named ("# want: <path>" lines in each file).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/validation"
)

// admit defaults and validates an object as the API server does.
func admit(o manifest.Object) error {
	switch x := o.(type) {
	case *v1.Job:
		validation.DefaultJob(x)
		return validation.ValidateJob(x)
	case *v1.CronJob:
		validation.DefaultCronJob(x)
		return validation.ValidateCronJob(x)
	case *v1.DaemonSet:
		validation.DefaultDaemonSet(x)
		return validation.ValidateDaemonSet(x)
	}
	return nil
}

// parseFile parses and admits one file, returning the objects and the
// errors of both steps.
func parseFile(t *testing.T, path string) ([]manifest.Object, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if err := admit(o); err != nil {
			return objs, err
		}
	}
	return objs, nil
}

// TestKubernetesManifestsAccepted: each documentation-style manifest is
// accepted, and the fields that make it an example are really read.
func TestKubernetesManifestsAccepted(t *testing.T) {
	checks := map[string]func(o manifest.Object) bool{
		"job-pi.yaml": func(o manifest.Object) bool {
			j := o.(*v1.Job)
			return j.GetSpec().GetBackoffLimit() == 4 && j.GetSpec().GetCompletions() == 1 &&
				j.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetCommand()[3] == "print bpi(2000)"
		},
		"job-parallel-work-queue.yaml": func(o manifest.Object) bool {
			j := o.(*v1.Job)
			return j.GetSpec().GetParallelism() == 2 && j.GetSpec().Completions == nil
		},
		"job-parallel-fixed-completions.yaml": func(o manifest.Object) bool {
			j := o.(*v1.Job)
			return j.GetSpec().GetCompletions() == 8 && j.GetSpec().GetParallelism() == 2
		},
		"job-indexed.yaml": func(o manifest.Object) bool {
			j := o.(*v1.Job)
			return j.GetSpec().GetCompletionMode() == "Indexed" && strings.Contains(j.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetCommand()[2], "$JOB_COMPLETION_INDEX")
		},
		"job-pod-failure-policy.yaml": func(o manifest.Object) bool {
			r := o.(*v1.Job).GetSpec().GetPodFailurePolicy().GetRules()
			return len(r) == 2 && r[0].GetAction() == "FailJob" && r[0].GetOnExitCodes().GetValues()[0] == 42 &&
				r[1].GetOnPodConditions()[0].GetType() == "DisruptionTarget"
		},
		"job-backoff-limit-per-index.yaml": func(o manifest.Object) bool {
			s := o.(*v1.Job).GetSpec()
			return s.GetBackoffLimitPerIndex() == 1 && s.GetMaxFailedIndexes() == 5
		},
		"job-success-policy.yaml": func(o manifest.Object) bool {
			r := o.(*v1.Job).GetSpec().GetSuccessPolicy().GetRules()
			return len(r) == 1 && r[0].GetSucceededIndexes() == "0,2-3" && r[0].GetSucceededCount() == 1
		},
		"job-ttl.yaml":             func(o manifest.Object) bool { return o.(*v1.Job).GetSpec().GetTtlSecondsAfterFinished() == 100 },
		"job-suspend.yaml":         func(o manifest.Object) bool { return o.(*v1.Job).GetSpec().GetSuspend() },
		"job-active-deadline.yaml": func(o manifest.Object) bool { return o.(*v1.Job).GetSpec().GetActiveDeadlineSeconds() == 100 },
		"job-resources-env-workdir.yaml": func(o manifest.Object) bool {
			j := o.(*v1.Job)
			c := j.GetSpec().GetTemplate().GetSpec().GetContainers()[0]
			return j.GetMetadata().GetNamespace() == "analytics" && c.GetWorkingDir() == "/tmp" && len(c.GetEnv()) == 2 &&
				c.GetEnv()[0].GetValue() == "Warm greetings to" && c.GetResources().GetLimits()["cpu"] == "500m" &&
				j.GetSpec().GetPodReplacementPolicy() == "Failed" && j.GetSpec().GetTemplate().GetSpec().GetNodeSelector()["disktype"] == "ssd"
		},
		"cronjob-hello.yaml": func(o manifest.Object) bool {
			cj := o.(*v1.CronJob)
			return cj.GetSpec().GetSchedule() == "* * * * *" &&
				cj.GetSpec().GetJobTemplate().GetSpec().GetTemplate().GetSpec().GetRestartPolicy() == "OnFailure"
		},
		"cronjob-policies.yaml": func(o manifest.Object) bool {
			s := o.(*v1.CronJob).GetSpec()
			return s.GetConcurrencyPolicy() == "Forbid" && s.GetTimeZone() == "Etc/UTC" && s.GetStartingDeadlineSeconds() == 200
		},
		"daemonset.yaml": func(o manifest.Object) bool {
			ds := o.(*v1.DaemonSet)
			return ds.GetMetadata().GetNamespace() == "kube-system" && ds.GetSpec().GetSelector().GetMatchLabels()["name"] == "fluentd-elasticsearch"
		},
	}
	files, err := filepath.Glob("testdata/k8s/accept/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			objs, err := parseFile(t, f)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(objs) != 1 {
				t.Fatalf("%d objects, want 1", len(objs))
			}
			check, ok := checks[name]
			if !ok {
				t.Fatalf("no check for %s: add one", name)
			}
			if !check(objs[0]) {
				t.Errorf("fields not read as written: %v", objs[0])
			}
		})
	}
}

// TestKubernetesManifestsRejected: every unsupported field is named in the
// error, with its path.
func TestKubernetesManifestsRejected(t *testing.T) {
	files, err := filepath.Glob("testdata/k8s/reject/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range strings.Split(string(data), "\n") {
				if p, ok := strings.CutPrefix(l, "# want: "); ok {
					want = append(want, strings.TrimSpace(p))
				}
			}
			if len(want) == 0 {
				t.Fatal("no '# want: <field path>' line")
			}
			_, err = parseFile(t, f)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			l, ok := validation.AsErrorList(err)
			if !ok {
				t.Fatalf("error %v has no field list", err)
			}
			fields := map[string]bool{}
			for _, fe := range l {
				fields[fe.Field] = true
			}
			for _, w := range want {
				if !fields[w] {
					t.Errorf("field %s not named; errors: %v", w, err)
				}
			}
			if len(l) != len(want) {
				t.Errorf("%d errors, want %d: %v", len(l), len(want), err)
			}
		})
	}
}
