package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/quantity"
)

func init() { rootCmd.AddCommand(newDescribeCmd(stdEnv)) }

func newDescribeCmd(env *cliEnv) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "describe (job|pod|node) NAME",
		Short: "Show a Job, CronJob, DaemonSet, pod or node in detail, with its events",
		Long: `Show one object in detail: for a Job its spec, status, conditions, pods and
events; for a pod its containers, their states and its events; for a node its
capacity, conditions, pods and events.`,
		Example: `  drover describe job pi
  drover describe pod/pi-7xk2q
  drover describe node worker-1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return userError(runDescribe(cmd.Context(), env, args, namespace))
		},
	}
	addNamespaceFlag(cmd, &namespace)
	return cmd
}

func runDescribe(ctx context.Context, env *cliEnv, args []string, ns string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	k, name, err := splitTarget(args)
	if err != nil {
		return err
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	switch k {
	case kindJob:
		job, err := c.Jobs(ns).Get(ctx, name)
		if err != nil {
			return notFound(k, name, err)
		}
		pods, err := c.Pods(ns).List(ctx, client.ListOptions{LabelSelector: "job-name=" + name})
		if err != nil {
			return err
		}
		events, err := objectEvents(ctx, c, ns, "Job", job.GetMetadata())
		if err != nil {
			return err
		}
		return env.describeJob(env.out, job, pods.Items, events)
	case kindPod:
		pod, err := c.Pods(ns).Get(ctx, name)
		if err != nil {
			return notFound(k, name, err)
		}
		events, err := objectEvents(ctx, c, ns, "Pod", pod.GetMetadata())
		if err != nil {
			return err
		}
		return env.describePod(env.out, pod, events)
	case kindNode:
		node, err := c.Nodes().Get(ctx, name)
		if err != nil {
			return notFound(k, name, err)
		}
		pods, err := c.Pods("").List(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		events, err := objectEvents(ctx, c, "", "Node", node.GetMetadata())
		if err != nil {
			return err
		}
		return env.describeNode(env.out, node, pods.Items, events)
	case kindCronJob:
		return env.runDescribeCronJob(ctx, c, ns, name)
	case kindDaemonSet:
		return env.runDescribeDaemonSet(ctx, c, ns, name)
	}
	return fmt.Errorf("describe supports jobs, pods, nodes, cronjobs and daemonsets, not %s", k.plural)
}

// objectEvents lists the events whose involvedObject is the object (by
// kind and name, and uid when both have one), oldest first.
func objectEvents(ctx context.Context, c *client.Client, ns, kindName string, md *v1.ObjectMeta) ([]*v1.Event, error) {
	l, err := c.Events(ns).List(ctx, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*v1.Event
	for _, e := range l.Items {
		io := e.GetInvolvedObject()
		if io.GetKind() != kindName || io.GetName() != md.GetName() {
			continue
		}
		if io.GetUid() != "" && md.GetUid() != "" && io.GetUid() != md.GetUid() {
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(out[i]).Before(eventTime(out[j])) })
	return out, nil
}

// describer writes "Key:  value" lines aligned, and indented blocks.
type describer struct {
	tw *tabwriter.Writer
}

func newDescriber(w io.Writer) *describer {
	return &describer{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

// line writes one line at an indent level; tabs separate aligned cells.
func (d *describer) line(level int, format string, args ...any) {
	fmt.Fprintf(d.tw, strings.Repeat("  ", level)+format+"\n", args...)
}

func (d *describer) flush() error { return d.tw.Flush() }

func (e *cliEnv) timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "<unset>"
	}
	return t.AsTime().In(e.loc).Format(time.RFC1123Z)
}

func mapString(m map[string]string) []string {
	if len(m) == 0 {
		return []string{"<none>"}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}

// multi writes a key whose values go one a line.
func (d *describer) multi(level int, key string, values []string) {
	for i, v := range values {
		if i == 0 {
			d.line(level, "%s:\t%s", key, v)
		} else {
			d.line(level, "\t%s", v)
		}
	}
}

func optional32(p *int32) string {
	if p == nil {
		return "<unset>"
	}
	return fmt.Sprint(*p)
}

func optional64(p *int64) string {
	if p == nil {
		return "<unset>"
	}
	return fmt.Sprint(*p)
}

func (e *cliEnv) describeJob(w io.Writer, j *v1.Job, pods []*v1.Pod, events []*v1.Event) error {
	d := newDescriber(w)
	md, s, st := j.GetMetadata(), j.GetSpec(), j.GetStatus()
	d.line(0, "Name:\t%s", md.GetName())
	d.line(0, "Namespace:\t%s", md.GetNamespace())
	sel := "<none>"
	if s.GetSelector() != nil {
		if ls, err := labels.FromLabelSelector(s.GetSelector()); err == nil {
			sel = ls.String()
		}
	}
	d.line(0, "Selector:\t%s", sel)
	d.multi(0, "Labels", mapString(md.GetLabels()))
	d.multi(0, "Annotations", mapString(md.GetAnnotations()))
	d.line(0, "Parallelism:\t%s", optional32(s.Parallelism))
	d.line(0, "Completions:\t%s", optional32(s.Completions))
	d.line(0, "Completion Mode:\t%s", s.GetCompletionMode())
	d.line(0, "Suspend:\t%t", s.GetSuspend())
	d.line(0, "Backoff Limit:\t%s", optional32(s.BackoffLimit))
	if s.ActiveDeadlineSeconds != nil {
		d.line(0, "Active Deadline Seconds:\t%ds", s.GetActiveDeadlineSeconds())
	}
	if s.TtlSecondsAfterFinished != nil {
		d.line(0, "TTL Seconds After Finished:\t%d", s.GetTtlSecondsAfterFinished())
	}
	if len(s.GetDependsOn()) > 0 {
		d.line(0, "Depends On:\t%s", strings.Join(s.GetDependsOn(), ", "))
	}
	d.line(0, "Start Time:\t%s", e.timestamp(st.GetStartTime()))
	if st.GetCompletionTime() != nil {
		d.line(0, "Completed At:\t%s", e.timestamp(st.GetCompletionTime()))
	}
	if dur := e.jobDuration(j); dur != "" {
		d.line(0, "Duration:\t%s", dur)
	}
	d.line(0, "Pods Statuses:\t%d Active (%d Ready) / %d Succeeded / %d Failed", st.GetActive(), st.GetReady(), st.GetSucceeded(), st.GetFailed())
	if s.GetCompletionMode() == "Indexed" {
		ci := st.GetCompletedIndexes()
		if ci == "" {
			ci = "<none>"
		}
		d.line(0, "Completed Indexes:\t%s", ci)
		if st.FailedIndexes != nil {
			d.line(0, "Failed Indexes:\t%s", st.GetFailedIndexes())
		}
	}
	d.line(0, "Pod Template:")
	tmpl := s.GetTemplate()
	d.multi(1, "Labels", mapString(tmpl.GetMetadata().GetLabels()))
	e.describeContainers(d, 1, tmpl.GetSpec().GetContainers(), nil)
	d.line(1, "Restart Policy:\t%s", tmpl.GetSpec().GetRestartPolicy())
	if len(tmpl.GetSpec().GetNodeSelector()) > 0 {
		d.multi(1, "Node-Selectors", mapString(tmpl.GetSpec().GetNodeSelector()))
	}
	d.line(0, "Conditions:")
	if len(st.GetConditions()) == 0 {
		d.line(1, "<none>")
	} else {
		d.line(1, "Type\tStatus\tReason\tMessage")
		d.line(1, "----\t------\t------\t-------")
		for _, c := range st.GetConditions() {
			d.line(1, "%s\t%s\t%s\t%s", c.GetType(), c.GetStatus(), c.GetReason(), c.GetMessage())
		}
	}
	d.line(0, "Pods:")
	if len(pods) == 0 {
		d.line(1, "<none>")
	} else {
		sort.Slice(pods, func(i, k int) bool { return podOrder(pods[i], pods[k]) })
		d.line(1, "Name\tPhase\tStatus\tNode\tAge")
		d.line(1, "----\t-----\t------\t----\t---")
		for _, p := range pods {
			node := p.GetSpec().GetNodeName()
			if node == "" {
				node = "<none>"
			}
			phase := p.GetStatus().GetPhase()
			if phase == "" {
				phase = "Pending"
			}
			ct := p.GetMetadata().GetCreationTimestamp()
			d.line(1, "%s\t%s\t%s\t%s\t%s", p.GetMetadata().GetName(), phase, podStatus(p), node, e.age(ct, ct != nil))
		}
	}
	e.describeEvents(d, events)
	return d.flush()
}

func (e *cliEnv) describeContainers(d *describer, level int, cs []*v1.Container, statuses []*v1.ContainerStatus) {
	d.line(level, "Containers:")
	byName := map[string]*v1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.GetName()] = s
	}
	for _, c := range cs {
		d.line(level+1, "%s:", c.GetName())
		l := level + 2
		d.line(l, "Image:\t%s", c.GetImage())
		if len(c.GetCommand()) > 0 {
			d.multi(l, "Command", c.GetCommand())
		}
		if len(c.GetArgs()) > 0 {
			d.multi(l, "Args", c.GetArgs())
		}
		if c.GetWorkingDir() != "" {
			d.line(l, "Working Dir:\t%s", c.GetWorkingDir())
		}
		if st, ok := byName[c.GetName()]; ok {
			e.describeState(d, l, "State", st.GetState())
			if st.GetLastState() != nil && (st.GetLastState().GetTerminated() != nil || st.GetLastState().GetRunning() != nil || st.GetLastState().GetWaiting() != nil) {
				e.describeState(d, l, "Last State", st.GetLastState())
			}
			d.line(l, "Ready:\t%t", st.GetReady())
			d.line(l, "Restart Count:\t%d", st.GetRestartCount())
		}
		if r := c.GetResources(); len(r.GetRequests()) > 0 || len(r.GetLimits()) > 0 {
			if len(r.GetLimits()) > 0 {
				d.line(l, "Limits:")
				for _, kv := range mapString(r.GetLimits()) {
					k, v, _ := strings.Cut(kv, "=")
					d.line(l+1, "%s:\t%s", k, v)
				}
			}
			if len(r.GetRequests()) > 0 {
				d.line(l, "Requests:")
				for _, kv := range mapString(r.GetRequests()) {
					k, v, _ := strings.Cut(kv, "=")
					d.line(l+1, "%s:\t%s", k, v)
				}
			}
		}
		if len(c.GetEnv()) > 0 {
			d.line(l, "Environment:")
			for _, ev := range c.GetEnv() {
				d.line(l+1, "%s:\t%s", ev.GetName(), ev.GetValue())
			}
		} else {
			d.line(l, "Environment:\t<none>")
		}
	}
}

func (e *cliEnv) describeState(d *describer, level int, key string, s *v1.ContainerState) {
	switch {
	case s.GetTerminated() != nil:
		t := s.GetTerminated()
		d.line(level, "%s:\tTerminated", key)
		if t.GetReason() != "" {
			d.line(level+1, "Reason:\t%s", t.GetReason())
		}
		if t.GetMessage() != "" {
			d.line(level+1, "Message:\t%s", t.GetMessage())
		}
		d.line(level+1, "Exit Code:\t%d", t.GetExitCode())
		if t.GetSignal() != 0 {
			d.line(level+1, "Signal:\t%d", t.GetSignal())
		}
		d.line(level+1, "Started:\t%s", e.timestamp(t.GetStartedAt()))
		d.line(level+1, "Finished:\t%s", e.timestamp(t.GetFinishedAt()))
	case s.GetRunning() != nil:
		d.line(level, "%s:\tRunning", key)
		d.line(level+1, "Started:\t%s", e.timestamp(s.GetRunning().GetStartedAt()))
	case s.GetWaiting() != nil:
		d.line(level, "%s:\tWaiting", key)
		if s.GetWaiting().GetReason() != "" {
			d.line(level+1, "Reason:\t%s", s.GetWaiting().GetReason())
		}
		if s.GetWaiting().GetMessage() != "" {
			d.line(level+1, "Message:\t%s", s.GetWaiting().GetMessage())
		}
	default:
		d.line(level, "%s:\t<unknown>", key)
	}
}

func (e *cliEnv) describeEvents(d *describer, events []*v1.Event) {
	if len(events) == 0 {
		d.line(0, "Events:\t<none>")
		return
	}
	d.line(0, "Events:")
	d.line(1, "Type\tReason\tAge\tFrom\tMessage")
	d.line(1, "----\t------\t----\t----\t-------")
	for _, ev := range events {
		age := "<unknown>"
		if t := eventTime(ev); !t.IsZero() {
			age = humanDuration(e.now().Sub(t))
			if ev.GetCount() > 1 && ev.GetFirstTimestamp() != nil {
				age = fmt.Sprintf("%s (x%d over %s)", age, ev.GetCount(), humanDuration(e.now().Sub(ev.GetFirstTimestamp().AsTime())))
			}
		}
		d.line(1, "%s\t%s\t%s\t%s\t%s", ev.GetType(), ev.GetReason(), age, ev.GetSource(), ev.GetMessage())
	}
}

func (e *cliEnv) describePod(w io.Writer, p *v1.Pod, events []*v1.Event) error {
	d := newDescriber(w)
	md, s, st := p.GetMetadata(), p.GetSpec(), p.GetStatus()
	d.line(0, "Name:\t%s", md.GetName())
	d.line(0, "Namespace:\t%s", md.GetNamespace())
	node := s.GetNodeName()
	if node == "" {
		node = "<none>"
	}
	d.line(0, "Node:\t%s", node)
	d.line(0, "Start Time:\t%s", e.timestamp(st.GetStartTime()))
	d.multi(0, "Labels", mapString(md.GetLabels()))
	d.multi(0, "Annotations", mapString(md.GetAnnotations()))
	phase := st.GetPhase()
	if phase == "" {
		phase = "Pending"
	}
	d.line(0, "Status:\t%s", phase)
	if st.GetReason() != "" {
		d.line(0, "Reason:\t%s", st.GetReason())
	}
	if st.GetMessage() != "" {
		d.line(0, "Message:\t%s", st.GetMessage())
	}
	for _, o := range md.GetOwnerReferences() {
		if o.GetController() {
			d.line(0, "Controlled By:\t%s/%s", o.GetKind(), o.GetName())
		}
	}
	e.describeContainers(d, 0, s.GetContainers(), st.GetContainerStatuses())
	d.line(0, "Restart Policy:\t%s", s.GetRestartPolicy())
	d.line(0, "Conditions:")
	if len(st.GetConditions()) == 0 {
		d.line(1, "<none>")
	} else {
		d.line(1, "Type\tStatus\tReason\tMessage")
		d.line(1, "----\t------\t------\t-------")
		for _, c := range st.GetConditions() {
			d.line(1, "%s\t%s\t%s\t%s", c.GetType(), c.GetStatus(), c.GetReason(), c.GetMessage())
		}
	}
	d.multi(0, "Node-Selectors", mapString(s.GetNodeSelector()))
	e.describeEvents(d, events)
	return d.flush()
}

func (e *cliEnv) describeNode(w io.Writer, n *v1.Node, pods []*v1.Pod, events []*v1.Event) error {
	d := newDescriber(w)
	md, st := n.GetMetadata(), n.GetStatus()
	d.line(0, "Name:\t%s", md.GetName())
	d.line(0, "Status:\t%s", nodeStatus(n))
	d.multi(0, "Labels", mapString(md.GetLabels()))
	d.line(0, "CreationTimestamp:\t%s", e.timestamp(md.GetCreationTimestamp()))
	d.line(0, "Unschedulable:\t%t", n.GetSpec().GetUnschedulable())
	d.line(0, "Runtime:\t%s", st.GetRuntime())
	hb := st.GetLastHeartbeatTime()
	if hb != nil {
		d.line(0, "Last Heartbeat:\t%s (%s ago)", e.timestamp(hb), humanDuration(e.now().Sub(hb.AsTime())))
	} else {
		d.line(0, "Last Heartbeat:\t<unknown>")
	}
	if st.GetLeaseId() != 0 {
		d.line(0, "Lease:\t%x (TTL %ds)", st.GetLeaseId(), st.GetLeaseTtlSeconds())
	}
	d.line(0, "Addresses:")
	if len(st.GetAddresses()) == 0 {
		d.line(1, "<none>")
	}
	for _, a := range st.GetAddresses() {
		d.line(1, "%s:\t%s", a.GetType(), a.GetAddress())
	}
	for _, sec := range []struct {
		name string
		m    map[string]string
	}{{"Capacity", st.GetCapacity()}, {"Allocatable", st.GetAllocatable()}} {
		d.line(0, "%s:", sec.name)
		if len(sec.m) == 0 {
			d.line(1, "<none>")
		}
		for _, kv := range mapString(sec.m) {
			if kv == "<none>" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			d.line(1, "%s:\t%s", k, v)
		}
	}
	d.line(0, "Conditions:")
	if len(st.GetConditions()) == 0 {
		d.line(1, "<none>")
	} else {
		d.line(1, "Type\tStatus\tLastHeartbeatTime\tReason\tMessage")
		d.line(1, "----\t------\t-----------------\t------\t-------")
		for _, c := range st.GetConditions() {
			d.line(1, "%s\t%s\t%s\t%s\t%s", c.GetType(), c.GetStatus(), e.timestamp(c.GetLastHeartbeatTime()), c.GetReason(), c.GetMessage())
		}
	}
	var mine []*v1.Pod
	for _, p := range pods {
		if p.GetSpec().GetNodeName() == md.GetName() && podActive(p) {
			mine = append(mine, p)
		}
	}
	d.line(0, "Non-terminated Pods:\t(%d in total)", len(mine))
	if len(mine) > 0 {
		d.line(1, "Namespace\tName\tCPU Requests\tMemory Requests\tAge")
		d.line(1, "---------\t----\t------------\t---------------\t---")
		for _, p := range mine {
			cpu, mem := int64(0), int64(0)
			for _, c := range p.GetSpec().GetContainers() {
				if v, err := quantity.Milli(c.GetResources().GetRequests()["cpu"]); err == nil {
					cpu += v
				}
				if v, err := quantity.Value(c.GetResources().GetRequests()["memory"]); err == nil {
					mem += v
				}
			}
			ct := p.GetMetadata().GetCreationTimestamp()
			d.line(1, "%s\t%s\t%s\t%s\t%s", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), formatCPU(cpu), formatBytes(mem), e.age(ct, ct != nil))
		}
	}
	_, cpu, mem := nodeUsage(md.GetName(), pods)
	d.line(0, "Allocated resources:")
	d.line(1, "Resource\tRequests")
	d.line(1, "--------\t--------")
	d.line(1, "cpu\t%s", usage(formatCPU(cpu), nodeAllocatable(n, "cpu"), formatCPU, quantity.Milli))
	d.line(1, "memory\t%s", usage(formatBytes(mem), nodeAllocatable(n, "memory"), formatBytes, quantity.Value))
	e.describeEvents(d, events)
	return d.flush()
}
