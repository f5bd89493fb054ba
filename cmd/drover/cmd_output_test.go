package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/client/clienttest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testNow is the fixed "now" behind every AGE column in the golden files.
var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(testNow.Add(-d)) }

// cli runs client commands against a fake server.
type cli struct {
	t     *testing.T
	srv   *clienttest.Server
	env   *cliEnv
	stdin string
	term  bool
	// vars is the environment the commands see (never the real one).
	vars map[string]string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, srv: clienttest.NewServer(t)}
}

// run executes `drover args...` and returns stdout, stderr and the error.
func (c *cli) run(args ...string) (string, string, error) {
	c.t.Helper()
	return c.runWithTimeout(20*time.Second, args...)
}

// runWithTimeout runs a command under a context with that timeout.
func (c *cli) runWithTimeout(timeout time.Duration, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	env := &cliEnv{
		in: strings.NewReader(c.stdin), out: &out, errOut: &errOut,
		server: new(string), now: func() time.Time { return testNow }, loc: time.UTC,
		isTerminal: func(io.Writer) bool { return c.term },
		dial:       []client.Option{client.WithRetry(3, time.Millisecond, 5*time.Millisecond)},
		env:        func(k string) string { return c.vars[k] },
	}
	root := &cobra.Command{Use: "drover", SilenceUsage: true, SilenceErrors: true}
	addServerFlag(root, env)
	root.AddCommand(newApplyCmd(env), newGetCmd(env), newDescribeCmd(env), newLogsCmd(env), newDeleteCmd(env), newWaitCmd(env),
		newCordonCmd(env, true), newCordonCmd(env, false), newDrainCmd(env), newStatusCmd(env))
	registerCompletions(root, env)
	root.SetArgs(append([]string{"--server", c.srv.Addr}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func cond(typ, reason, msg string) *v1.JobCondition {
	return &v1.JobCondition{Type: typ, Status: "True", Reason: reason, Message: msg, LastTransitionTime: ago(time.Minute)}
}

func fixtureJob(name, ns string, completions *int32, parallelism int32, created time.Duration, st *v1.JobStatus) *v1.Job {
	return &v1.Job{
		Metadata: &v1.ObjectMeta{
			Name: name, Namespace: ns, Uid: "uid-" + name, ResourceVersion: "1",
			Labels:            map[string]string{"app": name},
			CreationTimestamp: ago(created),
		},
		Spec: &v1.JobSpec{
			Completions: completions, Parallelism: proto.Int32(parallelism), BackoffLimit: proto.Int32(4),
			CompletionMode: "NonIndexed", Suspend: proto.Bool(false),
			Selector: &v1.LabelSelector{MatchLabels: map[string]string{"controller-uid": "uid-" + name}},
			Template: &v1.PodTemplateSpec{
				Metadata: &v1.ObjectMeta{Labels: map[string]string{"job-name": name, "controller-uid": "uid-" + name}},
				Spec: &v1.PodSpec{
					RestartPolicy: "Never",
					Containers: []*v1.Container{{
						Name: "main", Image: "busybox", Command: []string{"sh", "-c", "echo hi"},
						Resources: &v1.ResourceRequirements{Requests: map[string]string{"cpu": "250m", "memory": "64Mi"}},
					}},
					TerminationGracePeriodSeconds: proto.Int64(30),
				},
			},
		},
		Status: st,
	}
}

// seed fills the fake with a fixed cluster: four Jobs in two namespaces,
// their pods, two nodes and some events.
func seed(s *clienttest.Server) {
	s.PutJob(fixtureJob("pi", "default", proto.Int32(1), 1, 5*time.Minute, &v1.JobStatus{
		Succeeded: 1, StartTime: ago(5 * time.Minute), CompletionTime: ago(5*time.Minute - 42*time.Second),
		Conditions: []*v1.JobCondition{cond("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"), cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods")},
	}))
	s.PutJob(fixtureJob("parallel", "default", proto.Int32(20), 5, 200*time.Second, &v1.JobStatus{
		Active: 2, Ready: proto.Int32(1), Succeeded: 3, StartTime: ago(200 * time.Second),
	}))
	s.PutJob(fixtureJob("queue", "default", nil, 3, 50*time.Hour, &v1.JobStatus{
		Failed: 5, StartTime: ago(50 * time.Hour), Conditions: []*v1.JobCondition{cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")},
	}))
	s.PutJob(fixtureJob("nightly", "batch", proto.Int32(1), 1, 9*time.Second, &v1.JobStatus{
		Conditions: []*v1.JobCondition{cond("Suspended", "JobSuspended", "Job suspended")},
	}))

	pod := func(name, job, node, phase string, created time.Duration, cs *v1.ContainerStatus) *v1.Pod {
		return &v1.Pod{
			Metadata: &v1.ObjectMeta{
				Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: ago(created),
				Labels:          map[string]string{"job-name": job, "controller-uid": "uid-" + job},
				OwnerReferences: []*v1.OwnerReference{{ApiVersion: "batch/v1", Kind: "Job", Name: job, Uid: "uid-" + job, Controller: proto.Bool(true)}},
			},
			Spec: &v1.PodSpec{
				NodeName: node, RestartPolicy: "Never",
				Containers: []*v1.Container{{
					Name: "main", Image: "busybox", Command: []string{"sh", "-c", "echo hi"},
					Resources: &v1.ResourceRequirements{Requests: map[string]string{"cpu": "250m", "memory": "64Mi"}},
				}},
			},
			Status: &v1.PodStatus{Phase: phase, StartTime: ago(created), ContainerStatuses: []*v1.ContainerStatus{cs}},
		}
	}
	s.PutPod(pod("pi-x7k2q", "pi", "worker-1", "Succeeded", 5*time.Minute, &v1.ContainerStatus{Name: "main", State: &v1.ContainerState{
		Terminated: &v1.ContainerStateTerminated{ExitCode: 0, StartedAt: ago(5 * time.Minute), FinishedAt: ago(5*time.Minute - 40*time.Second)}}}))
	s.PutPod(pod("parallel-4", "parallel", "worker-1", "Running", 70*time.Second, &v1.ContainerStatus{Name: "main", Ready: true, State: &v1.ContainerState{
		Running: &v1.ContainerStateRunning{StartedAt: ago(65 * time.Second)}}}))
	s.PutPod(pod("parallel-5", "parallel", "", "Pending", 3*time.Second, &v1.ContainerStatus{Name: "main", State: &v1.ContainerState{
		Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}}))
	s.PutPod(pod("queue-a1", "queue", "worker-2", "Failed", 49*time.Hour, &v1.ContainerStatus{Name: "main", RestartCount: 2, State: &v1.ContainerState{
		Terminated: &v1.ContainerStateTerminated{ExitCode: 3, StartedAt: ago(49 * time.Hour), FinishedAt: ago(48 * time.Hour)}}}))

	s.PutNode(&v1.Node{
		Metadata: &v1.ObjectMeta{Name: "worker-1", CreationTimestamp: ago(3 * 24 * time.Hour), Labels: map[string]string{"disk": "ssd"}},
		Status: &v1.NodeStatus{
			Capacity:    map[string]string{"cpu": "4", "memory": "8Gi"},
			Allocatable: map[string]string{"cpu": "3500m", "memory": "7900Mi"},
			Conditions:  []*v1.NodeCondition{{Type: "Ready", Status: "True", Reason: "WorkerReady", LastHeartbeatTime: ago(4 * time.Second)}},
			Addresses:   []*v1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.11:7071"}},
			Runtime:     "process", LeaseId: 0x694d8a1b2c3d, LeaseTtlSeconds: 40, LastHeartbeatTime: ago(4 * time.Second),
		},
	})
	s.PutNode(&v1.Node{
		Metadata: &v1.ObjectMeta{Name: "worker-2", CreationTimestamp: ago(3 * 24 * time.Hour)},
		Spec:     &v1.NodeSpec{Unschedulable: true},
		Status: &v1.NodeStatus{
			Capacity:   map[string]string{"cpu": "2", "memory": "4Gi"},
			Conditions: []*v1.NodeCondition{{Type: "Ready", Status: "False", Reason: "NodeLost", Message: "lease expired"}},
			Runtime:    "docker",
		},
	})

	ev := func(name, ns, kind, obj, typ, reason, msg string, last time.Duration) *v1.Event {
		return &v1.Event{
			Metadata:       &v1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: &v1.ObjectReference{Kind: kind, Name: obj, Namespace: ns, Uid: "uid-" + obj},
			Type:           typ, Reason: reason, Message: msg, Source: "job-controller",
			FirstTimestamp: ago(last), LastTimestamp: ago(last), Count: 1,
		}
	}
	s.PutEvent(ev("pi.1", "default", "Job", "pi", "Normal", "SuccessfulCreate", "Created pod: pi-x7k2q", 5*time.Minute))
	s.PutEvent(ev("pi.2", "default", "Job", "pi", "Normal", "Completed", "Job completed", 5*time.Minute-42*time.Second))
	s.PutEvent(ev("parallel.1", "default", "Job", "parallel", "Normal", "SuccessfulCreate", "Created pod: parallel-5", 3*time.Second))
	s.PutEvent(ev("queue.1", "default", "Job", "queue", "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit", 48*time.Hour))
	s.PutEvent(ev("w2.1", "default", "Node", "worker-2", "Warning", "NodeNotReady", "Node worker-2 lease expired", 10*time.Minute))
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-5 * time.Second:               "<invalid>",
		-time.Second:                   "0s",
		5 * time.Second:                "5s",
		119 * time.Second:              "119s",
		200 * time.Second:              "3m20s",
		5 * time.Minute:                "5m",
		42 * time.Minute:               "42m",
		4*time.Hour + 10*time.Minute:   "4h10m",
		9 * time.Hour:                  "9h",
		50 * time.Hour:                 "2d2h",
		48 * time.Hour:                 "2d",
		30 * 24 * time.Hour:            "30d",
		3 * 365 * 24 * time.Hour:       "3y",
		(3*365 + 5) * 24 * time.Hour:   "3y5d",
		10 * 365 * 24 * time.Hour:      "10y",
		2*time.Minute + 30*time.Second: "2m30s",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]kind{"jobs": kindJob, "job.batch": kindJob, "PO": kindPod, "no": kindNode, "ev": kindEvent} {
		if got, err := parseKind(in); err != nil || got != want {
			t.Errorf("parseKind(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseKind("deployments"); err == nil {
		t.Error("parseKind(deployments): want an error")
	}
}

func TestGetGolden(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"get_jobs.golden", []string{"get", "jobs"}},
		{"get_jobs_wide.golden", []string{"get", "jobs", "-o", "wide"}},
		{"get_jobs_all.golden", []string{"get", "jobs", "-A"}},
		{"get_jobs_selector.golden", []string{"get", "job", "-l", "app in (pi,queue)"}},
		{"get_job_pi.golden", []string{"get", "job", "pi"}},
		{"get_jobs_name.golden", []string{"get", "jobs", "-o", "name"}},
		{"get_job_pi_json.golden", []string{"get", "job", "pi", "-o", "json"}},
		{"get_jobs_json.golden", []string{"get", "jobs", "-n", "batch", "-o", "json"}},
		{"get_job_pi_yaml.golden", []string{"get", "job", "pi", "-o", "yaml"}},
		{"get_jobs_yaml.golden", []string{"get", "jobs", "-n", "batch", "-o", "yaml"}},
		{"get_pods.golden", []string{"get", "pods"}},
		{"get_pods_wide.golden", []string{"get", "po", "-o", "wide"}},
		{"get_nodes.golden", []string{"get", "nodes"}},
		{"get_nodes_wide.golden", []string{"get", "no", "-o", "wide"}},
		{"get_events.golden", []string{"get", "events"}},
		{"describe_job.golden", []string{"describe", "job", "pi"}},
		{"describe_job_failed.golden", []string{"describe", "job/queue"}},
		{"describe_pod.golden", []string{"describe", "pod", "queue-a1"}},
		{"describe_node.golden", []string{"describe", "node", "worker-1"}},
	} {
		out, errOut, err := c.run(tc.args...)
		if err != nil || errOut != "" {
			t.Errorf("%v: %v %s", tc.args, err, errOut)
			continue
		}
		golden(t, tc.golden, out)
	}
}

func TestGetEmptyAndErrors(t *testing.T) {
	c := newCLI(t)
	out, errOut, err := c.run("get", "jobs")
	if err != nil || out != "" || errOut != "No resources found in default namespace.\n" {
		t.Errorf("empty: %q %q %v", out, errOut, err)
	}
	// An empty list in json still has items.
	out, _, err = c.run("get", "jobs", "-o", "json")
	if err != nil || !strings.Contains(out, `"items": []`) {
		t.Errorf("empty json: %q %v", out, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "job", "nope"}, `jobs.batch "nope" not found`},
		{[]string{"get", "deployments"}, `unknown resource type "deployments": use jobs, pods, nodes, events, cronjobs or daemonsets`},
		{[]string{"get", "jobs", "-o", "xml"}, `unknown output format "xml": use table, wide, json, yaml, name or jsonpath=TEMPLATE`},
		{[]string{"get", "jobs", "-l", "a in ("}, `labels: parse "a in (": missing ')' for "a"`},
	} {
		if _, _, err := c.run(tc.args...); err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %s", tc.args, err, tc.want)
		}
	}
}
