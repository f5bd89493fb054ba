package validation

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func p32(v int32) *int32 { return &v }
func p64(v int64) *int64 { return &v }

// validJob is the pi Job of the Kubernetes docs, defaulted.
func validJob() *v1.Job {
	j := &v1.Job{
		ApiVersion: "batch/v1",
		Kind:       "Job",
		Metadata:   &v1.ObjectMeta{Name: "pi", Labels: map[string]string{"app": "pi"}},
		Spec: &v1.JobSpec{
			BackoffLimit: p32(4),
			Template: &v1.PodTemplateSpec{
				Spec: &v1.PodSpec{
					RestartPolicy: "Never",
					Containers: []*v1.Container{{
						Name:    "pi",
						Image:   "perl:5.34.0",
						Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"},
						Resources: &v1.ResourceRequirements{
							Requests: map[string]string{"cpu": "500m", "memory": "128Mi"},
							Limits:   map[string]string{"cpu": "1", "memory": "1Gi"},
						},
						Env: []*v1.EnvVar{{Name: "GREETING", Value: "hi"}},
					}},
				},
			},
		},
	}
	DefaultJob(j)
	return j
}

func TestValidJobs(t *testing.T) {
	for name, mut := range map[string]func(j *v1.Job){
		"pi":             func(j *v1.Job) {},
		"no namespace":   func(j *v1.Job) { j.Metadata.Namespace = "" },
		"no command":     func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].Command = nil },
		"OnFailure":      func(j *v1.Job) { j.Spec.Template.Spec.RestartPolicy = "OnFailure" },
		"work queue":     func(j *v1.Job) { j.Spec.Completions = nil; j.Spec.Parallelism = p32(5) },
		"paused":         func(j *v1.Job) { j.Spec.Parallelism = p32(0) },
		"ttl 0":          func(j *v1.Job) { j.Spec.TtlSecondsAfterFinished = p32(0) },
		"generateName":   func(j *v1.Job) { j.Metadata.Name = ""; j.Metadata.GenerateName = "pi-" },
		"indexed":        func(j *v1.Job) { j.Spec.CompletionMode = "Indexed"; j.Spec.Completions = p32(5) },
		"prefixed label": func(j *v1.Job) { j.Metadata.Labels["example.com/team"] = "a_b" },
		"resource exponent and extended": func(j *v1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Requests = map[string]string{"cpu": "1e-1", "example.com/gpu": "1"}
		},
		"per-index backoff": func(j *v1.Job) {
			j.Spec.CompletionMode = "Indexed"
			j.Spec.Completions = p32(10)
			j.Spec.BackoffLimitPerIndex = p32(1)
			j.Spec.MaxFailedIndexes = p32(3)
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "FailIndex", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{42}}},
				{Action: "Ignore", OnPodConditions: []*v1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget"}}},
			}}
		},
		"success policy": func(j *v1.Job) {
			j.Spec.CompletionMode = "Indexed"
			j.Spec.Completions = p32(10)
			j.Spec.SuccessPolicy = &v1.SuccessPolicy{Rules: []*v1.SuccessPolicyRule{
				{SucceededIndexes: proto.String("0-3,7,9"), SucceededCount: p32(2)},
				{SucceededCount: p32(10)},
			}}
		},
		"manual selector": func(j *v1.Job) {
			j.Spec.ManualSelector = proto.Bool(true)
			j.Spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Metadata = &v1.ObjectMeta{Labels: map[string]string{"app": "pi"}}
		},
		"generated selector": func(j *v1.Job) {
			j.Metadata.Uid = "u-1"
			j.Spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{"controller-uid": "u-1"}}
		},
		"depends on": func(j *v1.Job) { j.Spec.DependsOn = []string{"prepare", "fetch.data"} },
	} {
		j := validJob()
		mut(j)
		if err := ValidateJob(j); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestInvalidJobs holds one case per rule: the mutation and the expected
// field path and a fragment of the detail.
func TestInvalidJobs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mut    func(j *v1.Job)
		field  string
		detail string
	}{
		{"kind", func(j *v1.Job) { j.Kind = "CronJob" }, "kind", `unknown value "CronJob"`},
		{"apiVersion", func(j *v1.Job) { j.ApiVersion = "batch/v2" }, "apiVersion", `unknown value "batch/v2"`},
		{"no metadata", func(j *v1.Job) { j.Metadata = nil }, "metadata", "required"},
		{"no name", func(j *v1.Job) { j.Metadata.Name = "" }, "metadata.name", "required"},
		{"upper-case name", func(j *v1.Job) { j.Metadata.Name = "Pi" }, "metadata.name", "DNS-1123 subdomain"},
		{"name ends in dash", func(j *v1.Job) { j.Metadata.Name = "pi-" }, "metadata.name", "DNS-1123 subdomain"},
		{"name too long", func(j *v1.Job) { j.Metadata.Name = strings.Repeat("a", 254) }, "metadata.name", "no more than 253"},
		{"name too long for a label", func(j *v1.Job) { j.Metadata.Name = strings.Repeat("a", 64) }, "metadata.name", "no more than 63"},
		{"bad generateName", func(j *v1.Job) { j.Metadata.Name = ""; j.Metadata.GenerateName = "Pi-" }, "metadata.generateName", "DNS-1123"},
		{"namespace with dot", func(j *v1.Job) { j.Metadata.Namespace = "a.b" }, "metadata.namespace", "DNS-1123 label"},
		{"label key", func(j *v1.Job) { j.Metadata.Labels["-x"] = "y" }, "metadata.labels[-x]", "invalid key"},
		{"label value", func(j *v1.Job) { j.Metadata.Labels["x"] = "a b" }, "metadata.labels[x]", "invalid value"},
		{"annotation key", func(j *v1.Job) { j.Metadata.Annotations = map[string]string{"a b": ""} }, "metadata.annotations[a b]", "invalid key"},
		{"annotations too big", func(j *v1.Job) {
			j.Metadata.Annotations = map[string]string{"big": strings.Repeat("x", MaxAnnotationsSize)}
		}, "metadata.annotations", "at most"},
		{"no spec", func(j *v1.Job) { j.Spec = nil }, "spec", "required"},
		{"parallelism", func(j *v1.Job) { j.Spec.Parallelism = p32(-1) }, "spec.parallelism", "must be >= 0"},
		{"completions", func(j *v1.Job) { j.Spec.Completions = p32(-1) }, "spec.completions", "must be >= 0"},
		{"backoffLimit", func(j *v1.Job) { j.Spec.BackoffLimit = p32(-1) }, "spec.backoffLimit", "must be >= 0"},
		{"activeDeadlineSeconds 0", func(j *v1.Job) { j.Spec.ActiveDeadlineSeconds = p64(0) }, "spec.activeDeadlineSeconds", "must be > 0"},
		{"ttl", func(j *v1.Job) { j.Spec.TtlSecondsAfterFinished = p32(-5) }, "spec.ttlSecondsAfterFinished", "must be >= 0"},
		{"completionMode", func(j *v1.Job) { j.Spec.CompletionMode = "Sorted" }, "spec.completionMode", `unknown value "Sorted": must be NonIndexed or Indexed`},
		{"indexed without completions", func(j *v1.Job) {
			j.Spec.CompletionMode = "Indexed"
			j.Spec.Completions = nil
		}, "spec.completions", "required when completionMode is Indexed"},
		{"indexed too many", func(j *v1.Job) {
			j.Spec.CompletionMode = "Indexed"
			j.Spec.Completions = p32(MaxIndexedCompletions + 1)
		}, "spec.completions", "must be <= 100000"},
		{"restartPolicy Always", func(j *v1.Job) { j.Spec.Template.Spec.RestartPolicy = "Always" }, "spec.template.spec.restartPolicy", `unsupported value "Always": must be Never or OnFailure`},
		{"restartPolicy empty", func(j *v1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }, "spec.template.spec.restartPolicy", "required"},
		{"restartPolicy unknown", func(j *v1.Job) { j.Spec.Template.Spec.RestartPolicy = "Sometimes" }, "spec.template.spec.restartPolicy", `unknown value "Sometimes"`},
		{"no template", func(j *v1.Job) { j.Spec.Template = nil }, "spec.template", "required"},
		{"no pod spec", func(j *v1.Job) { j.Spec.Template.Spec = nil }, "spec.template.spec", "required"},
		{"template label", func(j *v1.Job) {
			j.Spec.Template.Metadata = &v1.ObjectMeta{Labels: map[string]string{"a": "b c"}}
		}, "spec.template.metadata.labels[a]", "invalid value"},
		{"no containers", func(j *v1.Job) { j.Spec.Template.Spec.Containers = nil }, "spec.template.spec.containers", "at least one container"},
		{"container name", func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].Name = "Pi" }, "spec.template.spec.containers[0].name", "DNS-1123 label"},
		{"container name missing", func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].Name = "" }, "spec.template.spec.containers[0].name", "required"},
		{"duplicate container", func(j *v1.Job) {
			c := proto.Clone(j.Spec.Template.Spec.Containers[0]).(*v1.Container)
			j.Spec.Template.Spec.Containers = append(j.Spec.Template.Spec.Containers, c)
		}, "spec.template.spec.containers[1].name", `duplicate name "pi"`},
		{"no image", func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].Image = "" }, "spec.template.spec.containers[0].image", "required"},
		{"image with space", func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl 5" }, "spec.template.spec.containers[0].image", "spaces"},
		{"pull policy", func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].ImagePullPolicy = "Sometimes" }, "spec.template.spec.containers[0].imagePullPolicy", "unknown value"},
		{"env name", func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].Env[0].Name = "1X" }, "spec.template.spec.containers[0].env[0].name", "must not start with a digit"},
		{"env name empty", func(j *v1.Job) { j.Spec.Template.Spec.Containers[0].Env[0].Name = "" }, "spec.template.spec.containers[0].env[0].name", "required"},
		{"quantity junk", func(j *v1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Requests["cpu"] = "lots"
		}, "spec.template.spec.containers[0].resources.requests[cpu]", `invalid quantity "lots"`},
		{"quantity negative", func(j *v1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Limits["memory"] = "-1Gi"
		}, "spec.template.spec.containers[0].resources.limits[memory]", "must be a non-negative number"},
		{"quantity too large", func(j *v1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Limits["memory"] = "9Ei"
		}, "spec.template.spec.containers[0].resources.limits[memory]", `invalid quantity "9Ei"`},
		{"unknown resource", func(j *v1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Requests["gpu"] = "1"
		}, "spec.template.spec.containers[0].resources.requests[gpu]", `unknown resource "gpu"`},
		{"request above limit", func(j *v1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Requests["cpu"] = "1500m"
		}, "spec.template.spec.containers[0].resources.requests[cpu]", "less than or equal to the cpu limit 1"},
		{"nodeSelector", func(j *v1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "s s d"} }, "spec.template.spec.nodeSelector[disk]", "invalid value"},
		{"grace period", func(j *v1.Job) { j.Spec.Template.Spec.TerminationGracePeriodSeconds = p64(-1) }, "spec.template.spec.terminationGracePeriodSeconds", "must be >= 0"},
		{"pod deadline", func(j *v1.Job) { j.Spec.Template.Spec.ActiveDeadlineSeconds = p64(0) }, "spec.template.spec.activeDeadlineSeconds", "must be > 0"},
		{"podReplacementPolicy", func(j *v1.Job) { j.Spec.PodReplacementPolicy = "Never" }, "spec.podReplacementPolicy", `unknown value "Never"`},
		{"podReplacementPolicy with pfp", func(j *v1.Job) {
			j.Spec.PodReplacementPolicy = "TerminatingOrFailed"
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "Ignore", OnPodConditions: []*v1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget"}}},
			}}
		}, "spec.podReplacementPolicy", "must be Failed when podFailurePolicy is set"},
		{"pfp with OnFailure", func(j *v1.Job) {
			j.Spec.Template.Spec.RestartPolicy = "OnFailure"
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "Count", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{1}}},
			}}
		}, "spec.podFailurePolicy", "not allowed when spec.template.spec.restartPolicy is OnFailure"},
		{"pfp too many rules", func(j *v1.Job) {
			pfp := &v1.PodFailurePolicy{}
			for range 21 {
				pfp.Rules = append(pfp.Rules, &v1.PodFailurePolicyRule{Action: "Count", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{1}}})
			}
			j.Spec.PodFailurePolicy = pfp
		}, "spec.podFailurePolicy.rules", "at most 20 rules"},
		{"pfp action", func(j *v1.Job) {
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "Retry", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{1}}},
			}}
		}, "spec.podFailurePolicy.rules[0].action", `unknown value "Retry": must be FailJob, Ignore, Count or FailIndex`},
		{"pfp FailIndex without per-index", func(j *v1.Job) {
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "FailIndex", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{1}}},
			}}
		}, "spec.podFailurePolicy.rules[0].action", "FailIndex requires spec.backoffLimitPerIndex"},
		{"pfp no matcher", func(j *v1.Job) {
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{{Action: "Count"}}}
		}, "spec.podFailurePolicy.rules[0]", "must set one of onExitCodes or onPodConditions"},
		{"pfp In 0", func(j *v1.Job) {
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "FailJob", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: "In", Values: []int32{0}}},
			}}
		}, "spec.podFailurePolicy.rules[0].onExitCodes.values[0]", "must not be 0"},
		{"pfp operator", func(j *v1.Job) {
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "FailJob", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{Operator: "Is", Values: []int32{3}}},
			}}
		}, "spec.podFailurePolicy.rules[0].onExitCodes.operator", `unknown value "Is"`},
		{"pfp container", func(j *v1.Job) {
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "FailJob", OnExitCodes: &v1.PodFailurePolicyOnExitCodesRequirement{ContainerName: proto.String("other"), Operator: "In", Values: []int32{3}}},
			}}
		}, "spec.podFailurePolicy.rules[0].onExitCodes.containerName", `unknown container "other"`},
		{"pfp condition status", func(j *v1.Job) {
			j.Spec.PodFailurePolicy = &v1.PodFailurePolicy{Rules: []*v1.PodFailurePolicyRule{
				{Action: "Ignore", OnPodConditions: []*v1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget", Status: "Yes"}}},
			}}
		}, "spec.podFailurePolicy.rules[0].onPodConditions[0].status", `unknown value "Yes"`},
		{"backoffLimitPerIndex NonIndexed", func(j *v1.Job) { j.Spec.BackoffLimitPerIndex = p32(1) }, "spec.backoffLimitPerIndex", "requires completionMode Indexed"},
		{"maxFailedIndexes alone", func(j *v1.Job) { j.Spec.MaxFailedIndexes = p32(1) }, "spec.maxFailedIndexes", "requires backoffLimitPerIndex"},
		{"successPolicy NonIndexed", func(j *v1.Job) {
			j.Spec.SuccessPolicy = &v1.SuccessPolicy{Rules: []*v1.SuccessPolicyRule{{SucceededCount: p32(1)}}}
		}, "spec.successPolicy", "requires completionMode Indexed"},
		{"successPolicy indexes", func(j *v1.Job) {
			j.Spec.CompletionMode = "Indexed"
			j.Spec.Completions = p32(5)
			j.Spec.SuccessPolicy = &v1.SuccessPolicy{Rules: []*v1.SuccessPolicyRule{{SucceededIndexes: proto.String("3-7")}}}
		}, "spec.successPolicy.rules[0].succeededIndexes", "not below completions"},
		{"successPolicy count", func(j *v1.Job) {
			j.Spec.CompletionMode = "Indexed"
			j.Spec.Completions = p32(5)
			j.Spec.SuccessPolicy = &v1.SuccessPolicy{Rules: []*v1.SuccessPolicyRule{{SucceededIndexes: proto.String("0,1"), SucceededCount: p32(3)}}}
		}, "spec.successPolicy.rules[0].succeededCount", "must be <= 2"},
		{"successPolicy empty rule", func(j *v1.Job) {
			j.Spec.CompletionMode = "Indexed"
			j.Spec.Completions = p32(5)
			j.Spec.SuccessPolicy = &v1.SuccessPolicy{Rules: []*v1.SuccessPolicyRule{{}}}
		}, "spec.successPolicy.rules[0]", "must set succeededIndexes or succeededCount"},
		{"selector without manualSelector", func(j *v1.Job) {
			j.Spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, "spec.selector", "manualSelector"},
		{"manualSelector without selector", func(j *v1.Job) { j.Spec.ManualSelector = proto.Bool(true) }, "spec.selector", "required when manualSelector is true"},
		{"manual selector not matching", func(j *v1.Job) {
			j.Spec.ManualSelector = proto.Bool(true)
			j.Spec.Selector = &v1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, "spec.selector", "does not match spec.template.metadata.labels"},
		{"selector operator", func(j *v1.Job) {
			j.Spec.ManualSelector = proto.Bool(true)
			j.Spec.Selector = &v1.LabelSelector{MatchExpressions: []*v1.LabelSelectorRequirement{{Key: "app", Operator: "Like"}}}
		}, "spec.selector.matchExpressions[0].operator", `unknown value "Like"`},
		{"depends on itself", func(j *v1.Job) { j.Spec.DependsOn = []string{"pi"} }, "spec.dependsOn[0]", "cannot depend on itself"},
		{"depends on bad name", func(j *v1.Job) { j.Spec.DependsOn = []string{"Prepare"} }, "spec.dependsOn[0]", "DNS-1123"},
		{"depends on twice", func(j *v1.Job) { j.Spec.DependsOn = []string{"a", "a"} }, "spec.dependsOn[1]", "duplicate"},
	} {
		j := validJob()
		tc.mut(j)
		err := ValidateJob(j)
		l, ok := AsErrorList(err)
		if !ok {
			t.Errorf("%s: ValidateJob = %v, want an ErrorList", tc.name, err)
			continue
		}
		found := false
		for _, fe := range l.Errors() {
			if fe.Field == tc.field && strings.Contains(fe.Detail, tc.detail) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: got %q, want %s: ...%s...", tc.name, err, tc.field, tc.detail)
		}
	}
}

func TestAllErrorsGathered(t *testing.T) {
	j := validJob()
	j.Spec.Completions = p32(-1)
	j.Spec.Parallelism = p32(-1)
	j.Spec.Template.Spec.RestartPolicy = "Always"
	err := ValidateJob(j)
	want := "spec.parallelism: must be >= 0; spec.completions: must be >= 0; " +
		`spec.template.spec.restartPolicy: unsupported value "Always": must be Never or OnFailure`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestNilJob(t *testing.T) {
	if err := ValidateJob(nil); err == nil {
		t.Error("want an error")
	}
}

func TestGRPCStatusRoundTrip(t *testing.T) {
	l := ErrorList{{Field: "spec.completions", Detail: "must be >= 0"}, {Field: "metadata.name", Detail: "required"}}
	st, ok := status.FromError(l)
	if !ok || st.Code() != codes.InvalidArgument || st.Message() != l.Error() {
		t.Fatalf("status = %v", st)
	}
	back := FromStatus(st)
	if len(back) != 2 || back[0].Field != "spec.completions" || back[1].Detail != "required" {
		t.Errorf("FromStatus = %v", back)
	}
	if (ErrorList{}).Err() != nil {
		t.Error("empty list Err() must be nil")
	}
	wrapped := errors.Join(errors.New("x"), l)
	if got, ok := AsErrorList(wrapped); !ok || len(got) != 2 {
		t.Errorf("AsErrorList = %v %v", got, ok)
	}
}

func TestDefaultJob(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		completions, parallelism *int32
		wantC, wantP             *int32
	}{
		{"non-parallel", nil, nil, p32(1), p32(1)},
		{"fixed count", p32(20), nil, p32(20), p32(1)},
		{"fixed count parallel", p32(20), p32(5), p32(20), p32(5)},
		{"work queue", nil, p32(5), nil, p32(5)},
	} {
		j := &v1.Job{Metadata: &v1.ObjectMeta{Name: "x"}, Spec: &v1.JobSpec{
			Completions: tc.completions, Parallelism: tc.parallelism,
			Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{RestartPolicy: "OnFailure"}},
		}}
		DefaultJob(j)
		s := j.Spec
		if !eq(s.Completions, tc.wantC) || !eq(s.Parallelism, tc.wantP) {
			t.Errorf("%s: completions %v parallelism %v", tc.name, s.Completions, s.Parallelism)
		}
		if j.Metadata.Namespace != "default" || s.GetBackoffLimit() != 6 || s.CompletionMode != "NonIndexed" ||
			s.PodReplacementPolicy != "Failed" || s.Suspend == nil || *s.Suspend ||
			s.Template.Spec.GetTerminationGracePeriodSeconds() != 30 || s.Template.Spec.RestartPolicy != "OnFailure" ||
			j.ApiVersion != "batch/v1" || j.Kind != "Job" {
			t.Errorf("%s: defaults not set: %v", tc.name, j)
		}
	}
	// Set fields are kept.
	j := validJob()
	j.Spec.Suspend = proto.Bool(true)
	j.Metadata.Namespace = "batch"
	before := proto.Clone(j)
	DefaultJob(j)
	if !proto.Equal(before, j) {
		t.Errorf("DefaultJob changed set fields:\n%v\n%v", before, j)
	}
	// backoffLimitPerIndex makes backoffLimit unbounded.
	j = &v1.Job{Spec: &v1.JobSpec{BackoffLimitPerIndex: p32(1)}}
	DefaultJob(j)
	if j.Spec.GetBackoffLimit() != 1<<31-1 {
		t.Errorf("backoffLimit = %d", j.Spec.GetBackoffLimit())
	}
	DefaultJob(nil)
}

func eq(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func TestCountIndexes(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int32
		fail bool
	}{
		{"0-3,7", 5, false},
		{"0", 1, false},
		{"9", 1, false},
		{"", 0, true},
		{"3-1", 0, true},
		{"1,1", 0, true},
		{"5,2", 0, true},
		{"a", 0, true},
		{"10", 0, true},
		{"-1", 0, true},
	} {
		n, err := countIndexes(tc.s, 10)
		if (err != nil) != tc.fail || (!tc.fail && n != tc.n) {
			t.Errorf("countIndexes(%q) = %d, %v", tc.s, n, err)
		}
	}
}

func FuzzValidateJob(f *testing.F) {
	b, _ := proto.Marshal(validJob())
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		j := &v1.Job{}
		if proto.Unmarshal(data, j) != nil {
			return
		}
		_ = ValidateJob(j)
		DefaultJob(j)
		_ = ValidateJob(j)
	})
}
