package main

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// TestGetFormatsGolden prints every kind in every output format (the
// table and wide tables of jobs, pods and nodes are in TestGetGolden).
func TestGetFormatsGolden(t *testing.T) {
	c := newCLI(t)
	seed(c.srv)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"get_jobs_jsonpath.golden", []string{"get", "jobs", "-o", "jsonpath={.items[*].metadata.name}"}},
		{"get_jobs_jsonpath_range.golden", []string{"get", "jobs", "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\t"}{.status.succeeded}{"\n"}{end}`}},
		{"get_jobs_jsonpath_filter.golden", []string{"get", "jobs", "-o", `jsonpath={range .items[*]}{.metadata.name}: {.status.conditions[?(@.type=="Complete")].reason}{"\n"}{end}`}},
		{"get_job_pi_jsonpath.golden", []string{"get", "job", "pi", "-o", "jsonpath={.spec.template.spec.containers[0].image}"}},
		{"get_pods_json.golden", []string{"get", "pods", "-o", "json"}},
		{"get_pods_yaml.golden", []string{"get", "pods", "-o", "yaml"}},
		{"get_pods_name.golden", []string{"get", "pods", "-o", "name"}},
		{"get_pods_jsonpath.golden", []string{"get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\n"}{end}`}},
		{"get_nodes_json.golden", []string{"get", "nodes", "-o", "json"}},
		{"get_nodes_yaml.golden", []string{"get", "nodes", "-o", "yaml"}},
		{"get_nodes_name.golden", []string{"get", "nodes", "-o", "name"}},
		{"get_nodes_jsonpath.golden", []string{"get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`}},
		{"get_events_wide.golden", []string{"get", "events", "-o", "wide"}},
		{"get_events_json.golden", []string{"get", "events", "-o", "json"}},
		{"get_events_yaml.golden", []string{"get", "events", "-o", "yaml"}},
		{"get_events_name.golden", []string{"get", "events", "-o", "name"}},
		{"get_events_jsonpath.golden", []string{"get", "events", "-o", `jsonpath={range .items[?(@.type=="Warning")]}{.reason}: {.message}{"\n"}{end}`}},
	} {
		out, errOut, err := c.run(tc.args...)
		if err != nil || errOut != "" {
			t.Errorf("%v: %v %s", tc.args, err, errOut)
			continue
		}
		golden(t, tc.golden, out)
	}
	if _, _, err := c.run("get", "jobs", "-o", "jsonpath={.items[*]"); err == nil || !strings.Contains(err.Error(), "unclosed {") {
		t.Errorf("bad template: %v", err)
	}
}

// TestGetWatch: get -w prints the list, then one row per change, until
// interrupted; --output-watch-events adds the event type.
func TestGetWatch(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		golden string
	}{
		{[]string{"get", "jobs", "-w"}, "get_jobs_watch.golden"},
		{[]string{"get", "jobs", "-w", "--output-watch-events"}, "get_jobs_watch_events.golden"},
		{[]string{"get", "job", "parallel", "-w", "-o", "name", "--output-watch-events"}, "get_job_watch_name.golden"},
		{[]string{"get", "jobs", "-w", "-o", "jsonpath={.metadata.name} {.status.succeeded}{\"\\n\"}"}, "get_jobs_watch_jsonpath.golden"},
	} {
		c := newCLI(t)
		seed(c.srv)
		go func() {
			waitCalls(t, c.srv, "WatchJobs", 1)
			c.srv.ModifyJob("default", "parallel", func(j *v1.Job) { j.Status.Succeeded = 4 })
			c.srv.DeleteJobNow("default", "queue")
			c.srv.PutJob(fixtureJob("late", "default", nil, 1, 0, &v1.JobStatus{}))
			c.srv.PutJob(fixtureJob("elsewhere", "batch", nil, 1, 0, &v1.JobStatus{}))
		}()
		// The changes reach the watch within milliseconds; the command
		// ends when its context does, as an interrupt ends it.
		out, errOut, err := c.runWithTimeout(time.Second, tc.args...)
		if err != nil {
			t.Errorf("%v: %v (%s)", tc.args, err, errOut)
			continue
		}
		golden(t, tc.golden, out)
	}
}

// waitCalls waits until method was called n times on the fake.
func waitCalls(t *testing.T, s interface{ Calls(string) int }, method string, n int) {
	deadline := time.Now().Add(10 * time.Second)
	for s.Calls(method) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCronJobDaemonSetFormatsGolden prints CronJobs and DaemonSets in the
// json, yaml, name and jsonpath formats (their tables are in
// TestCronJobAndDaemonSetGolden).
func TestCronJobDaemonSetFormatsGolden(t *testing.T) {
	cjs := []object{fixtureCronJob("backup", "*/5 * * * *", "", false), fixtureCronJob("paused", "@daily", "", true)}
	dss := []object{fixtureDaemonSet()}
	for _, tc := range []struct {
		golden string
		k      kind
		objs   []object
		format string
	}{
		{"get_cronjobs_json.golden", kindCronJob, cjs, "json"},
		{"get_cronjobs_yaml.golden", kindCronJob, cjs, "yaml"},
		{"get_cronjobs_name.golden", kindCronJob, cjs, "name"},
		{"get_cronjobs_jsonpath.golden", kindCronJob, cjs, `jsonpath={range .items[*]}{.metadata.name}{"\t"}{.spec.schedule}{"\t"}{.spec.suspend}{"\n"}{end}`},
		{"get_daemonsets_json.golden", kindDaemonSet, dss, "json"},
		{"get_daemonsets_yaml.golden", kindDaemonSet, dss, "yaml"},
		{"get_daemonsets_name.golden", kindDaemonSet, dss, "name"},
		{"get_daemonsets_jsonpath.golden", kindDaemonSet, dss, `jsonpath={.items[*].metadata.name}`},
	} {
		var out strings.Builder
		if err := printObjects(&out, tc.k, tc.objs, tc.format, false); err != nil {
			t.Errorf("%s: %v", tc.golden, err)
			continue
		}
		golden(t, tc.golden, out.String())
	}
}

// TestGetCronJobsThroughTheAPI: get, get -w and completion of CronJobs and
// DaemonSets read through the SDK from the (fake) API.
func TestGetCronJobsThroughTheAPI(t *testing.T) {
	c := newCLI(t)
	c.srv.PutCronJob(fixtureCronJob("backup", "*/5 * * * *", "", false))
	c.srv.PutCronJob(fixtureCronJob("paused", "@daily", "", true))
	c.srv.PutDaemonSet(fixtureDaemonSet())
	out, _, err := c.run("get", "cronjobs", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.schedule}{"\n"}{end}`)
	if err != nil || out != "backup=*/5 * * * *\npaused=@daily\n" {
		t.Errorf("jsonpath: %q %v", out, err)
	}
	out, _, err = c.run("get", "ds", "-o", "name")
	if err != nil || out != "daemonset.apps/agent\n" {
		t.Errorf("name: %q %v", out, err)
	}
	out, _, err = c.run("__complete", "get", "cronjobs", "")
	if err != nil || !strings.HasPrefix(out, "backup\npaused\n:4") {
		t.Errorf("completion: %q %v", out, err)
	}
	go func() {
		waitCalls(t, c.srv, "WatchCronJobs", 1)
		c.srv.PutCronJob(fixtureCronJob("paused", "@daily", "", false))
	}()
	out, _, err = c.runWithTimeout(time.Second, "get", "cronjobs", "-w", "-o", "name", "--output-watch-events")
	if err != nil || out != "ADDED cronjob.batch/backup\nADDED cronjob.batch/paused\nMODIFIED cronjob.batch/paused\n" {
		t.Errorf("get -w: %q %v", out, err)
	}
}
