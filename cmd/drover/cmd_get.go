package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/podstatus"
	"github.com/drover-dev/drover/pkg/quantity"
)

func init() { rootCmd.AddCommand(newGetCmd(stdEnv)) }

type getOptions struct {
	namespace     string
	allNamespaces bool
	output        string
	selector      string
	watch         bool
	watchEvents   bool
}

func newGetCmd(env *cliEnv) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get KIND [NAME...]",
		Short: "List jobs, cronjobs, daemonsets, pods, nodes or events, or show some by name",
		Long: `List objects of one kind, or show the named ones.

KIND is jobs (job), pods (pod, po), nodes (node, no) or events (ev).
Output is a table unless -o says json, yaml, name, wide (a table with more
columns) or jsonpath=TEMPLATE (kubectl's JSONPath: {.items[*].metadata.name},
{range .items[*]}{.metadata.name}{"\n"}{end}, filters such as
[?(@.type=="Complete")]). -o json of one named object prints the object;
otherwise a List with an "items" key. -w keeps watching and prints every
change.`,
		Example: `  drover get jobs
  drover get pods -l job-name=pi -o wide
  drover get job pi -o yaml
  drover get jobs -o jsonpath='{.items[*].metadata.name}'
  drover get jobs -w
  drover get events -A`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return userError(runGet(cmd.Context(), env, args, o))
		},
	}
	addNamespaceFlag(cmd, &o.namespace)
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, wide, json, yaml, name or jsonpath=TEMPLATE (kubectl's JSONPath)")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes and print each as it happens (until interrupted)")
	cmd.Flags().BoolVar(&o.watchEvents, "output-watch-events", false, "with --watch, print the event type (ADDED, MODIFIED, DELETED) of each change")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector, such as app=web,tier!=db")
	return cmd
}

func runGet(ctx context.Context, env *cliEnv, args []string, o getOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	k, err := parseKind(args[0])
	if err != nil {
		return err
	}
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.selector != "" {
		if _, err := labels.Parse(o.selector); err != nil {
			return err
		}
	}
	names := args[1:]
	ns := o.namespace
	if o.allNamespaces {
		ns = ""
		if len(names) > 0 {
			return fmt.Errorf("a name cannot be given with --all-namespaces")
		}
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if o.watch {
		return runGetWatch(ctx, env, c, k, ns, names, o)
	}
	objs, err := fetch(ctx, c, k, ns, names, o.selector)
	if err != nil {
		return err
	}
	if o.output != "table" && o.output != "wide" {
		return printObjects(env.out, k, objs, o.output, len(names) == 1)
	}
	if len(objs) == 0 {
		if k.namespaced && ns != "" {
			fmt.Fprintf(env.errOut, "No resources found in %s namespace.\n", ns)
		} else {
			fmt.Fprintln(env.errOut, "No resources found")
		}
		return nil
	}
	var pods []*v1.Pod
	if k == kindNode {
		// PODS, CPU and MEMORY count what is bound to each node.
		l, err := c.Pods("").List(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		pods = l.Items
	}
	return printTable(env, env.out, k, objs, tableOptions{wide: o.output == "wide", namespaces: ns == "" && k.namespaced, pods: pods})
}

// fetch reads the named objects, or the list.
func fetch(ctx context.Context, c *client.Client, k kind, ns string, names []string, selector string) ([]object, error) {
	var out []object
	if len(names) > 0 {
		for _, name := range names {
			var o object
			var err error
			switch k {
			case kindJob:
				o, err = c.Jobs(ns).Get(ctx, name)
			case kindPod:
				o, err = c.Pods(ns).Get(ctx, name)
			case kindNode:
				o, err = c.Nodes().Get(ctx, name)
			case kindCronJob:
				o, err = c.CronJobs(ns).Get(ctx, name)
			case kindDaemonSet:
				o, err = c.DaemonSets(ns).Get(ctx, name)
			case kindEvent:
				var l *client.List[*v1.Event]
				l, err = c.Events(ns).List(ctx, client.ListOptions{})
				if err == nil {
					for _, e := range l.Items {
						if e.GetMetadata().GetName() == name {
							o = e
						}
					}
					if o == nil {
						err = fmt.Errorf("%s %q not found", k.plural, name)
					}
				}
			}
			if err != nil {
				if client.IsNotFound(err) {
					return nil, fmt.Errorf("%s %q not found", k.plural, name)
				}
				return nil, err
			}
			out = append(out, o)
		}
		return out, nil
	}
	opts := client.ListOptions{LabelSelector: selector}
	switch k {
	case kindJob:
		l, err := c.Jobs(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			out = append(out, o)
		}
	case kindPod:
		l, err := c.Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			out = append(out, o)
		}
	case kindNode:
		l, err := c.Nodes().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			out = append(out, o)
		}
	case kindCronJob:
		l, err := c.CronJobs(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			out = append(out, o)
		}
	case kindDaemonSet:
		l, err := c.DaemonSets(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			out = append(out, o)
		}
	case kindEvent:
		l, err := c.Events(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		sort.SliceStable(l.Items, func(i, j int) bool {
			return eventTime(l.Items[i]).Before(eventTime(l.Items[j]))
		})
		for _, o := range l.Items {
			out = append(out, o)
		}
	}
	return out, nil
}

type tableOptions struct {
	wide       bool
	namespaces bool
	pods       []*v1.Pod
}

// printTable writes objs as a kubectl-style table.
func printTable(env *cliEnv, w io.Writer, k kind, objs []object, o tableOptions) error {
	tw := newTable(w)
	var header []string
	switch k {
	case kindJob:
		header = []string{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"}
		if o.wide {
			header = append(header, "CONTAINERS", "IMAGES", "SELECTOR")
		}
	case kindPod:
		header = []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
		if o.wide {
			header = append(header, "NODE")
		}
	case kindNode:
		header = []string{"NAME", "STATUS", "PODS", "CPU", "MEMORY", "LAST-HEARTBEAT", "AGE"}
		if o.wide {
			header = append(header, "RUNTIME", "ADDRESS")
		}
	case kindEvent:
		header = []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}
	case kindCronJob, kindDaemonSet:
		header = append([]string{}, cronJobHeader...)
		if k == kindDaemonSet {
			header = append([]string{}, daemonSetHeader...)
		}
		if o.wide {
			header = append(header, "CONTAINERS", "IMAGES", "SELECTOR")
		}
	}
	if o.namespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, obj := range objs {
		var row []string
		switch x := obj.(type) {
		case *v1.Job:
			row = env.jobRow(x, o.wide)
		case *v1.Pod:
			row = env.podRow(x, o.wide)
		case *v1.Node:
			row = env.nodeRow(x, o.pods, o.wide)
		case *v1.Event:
			row = env.eventRow(x)
		case *v1.CronJob:
			row = env.cronJobRow(x, o.wide)
		case *v1.DaemonSet:
			row = env.daemonSetRow(x, o.wide)
		}
		if o.namespaces {
			row = append([]string{obj.GetMetadata().GetNamespace()}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// jobStatus is the STATUS column: the terminal or blocking condition, else Running.
func jobStatus(j *v1.Job) string {
	for _, c := range []string{client.JobFailed, client.JobComplete, client.JobSuspended, client.JobWaiting} {
		if client.HasJobCondition(j, c) {
			return c
		}
	}
	if client.HasJobCondition(j, client.JobFailureTarget) {
		return "Failing"
	}
	return "Running"
}

// jobCompletions is the COMPLETIONS column, as kubectl writes it.
func jobCompletions(j *v1.Job) string {
	s, st := j.GetSpec(), j.GetStatus()
	switch {
	case s.Completions != nil:
		return fmt.Sprintf("%d/%d", st.GetSucceeded(), s.GetCompletions())
	case s.GetParallelism() > 1:
		return fmt.Sprintf("%d/1 of %d", st.GetSucceeded(), s.GetParallelism())
	}
	return fmt.Sprintf("%d/1", st.GetSucceeded())
}

// jobDuration is how long the Job ran (so far).
func (e *cliEnv) jobDuration(j *v1.Job) string {
	st := j.GetStatus()
	if st.GetStartTime() == nil {
		return ""
	}
	end := e.now()
	if st.GetCompletionTime() != nil {
		end = st.GetCompletionTime().AsTime()
	}
	return humanDuration(end.Sub(st.GetStartTime().AsTime()))
}

func (e *cliEnv) jobRow(j *v1.Job, wide bool) []string {
	md := j.GetMetadata()
	row := []string{md.GetName(), jobStatus(j), jobCompletions(j), e.jobDuration(j),
		e.age(md.GetCreationTimestamp(), md.GetCreationTimestamp() != nil)}
	if wide {
		var names, images []string
		for _, c := range j.GetSpec().GetTemplate().GetSpec().GetContainers() {
			names = append(names, c.GetName())
			images = append(images, c.GetImage())
		}
		sel := "<none>"
		if j.GetSpec().GetSelector() != nil {
			if s, err := labels.FromLabelSelector(j.GetSpec().GetSelector()); err == nil {
				sel = s.String()
			}
		}
		row = append(row, strings.Join(names, ","), strings.Join(images, ","), sel)
	}
	return row
}

// podStatus is the STATUS column: a container's waiting or terminated
// reason when there is one, Terminating while deleted, else the phase.
func podStatus(p *v1.Pod) string {
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		return "Terminating"
	}
	reason := p.GetStatus().GetPhase()
	if reason == "" {
		reason = "Pending"
	}
	if r := p.GetStatus().GetReason(); r != "" {
		reason = r
	}
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		switch {
		case cs.GetState().GetWaiting().GetReason() != "":
			return cs.GetState().GetWaiting().GetReason()
		case podstatus.Observed(cs.GetState().GetTerminated()):
			// A state filled in when the pod ended unseen (its node
			// lost: podstatus.Terminate) says less than the pod's reason.
			t := cs.GetState().GetTerminated()
			switch {
			case t.GetReason() != "":
				reason = t.GetReason()
			case t.GetExitCode() == 0:
				reason = "Completed"
			default:
				reason = "Error"
			}
		}
	}
	return reason
}

func (e *cliEnv) podRow(p *v1.Pod, wide bool) []string {
	md := p.GetMetadata()
	total := len(p.GetSpec().GetContainers())
	ready, restarts := 0, int32(0)
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if cs.GetReady() {
			ready++
		}
		restarts += cs.GetRestartCount()
	}
	row := []string{md.GetName(), fmt.Sprintf("%d/%d", ready, total), podStatus(p), fmt.Sprint(restarts),
		e.age(md.GetCreationTimestamp(), md.GetCreationTimestamp() != nil)}
	if wide {
		node := p.GetSpec().GetNodeName()
		if node == "" {
			node = "<none>"
		}
		row = append(row, node)
	}
	return row
}

// nodeStatus is Ready or NotReady, with SchedulingDisabled when cordoned.
func nodeStatus(n *v1.Node) string {
	s := "NotReady"
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" && c.GetStatus() == "True" {
			s = "Ready"
		}
	}
	if n.GetSpec().GetUnschedulable() {
		s += ",SchedulingDisabled"
	}
	return s
}

// podActive reports whether a pod holds its node's resources.
func podActive(p *v1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph != "Succeeded" && ph != "Failed"
}

// nodeUsage sums the requests of the active pods bound to node.
func nodeUsage(node string, pods []*v1.Pod) (n int, cpuMilli, memBytes int64) {
	for _, p := range pods {
		if p.GetSpec().GetNodeName() != node || !podActive(p) {
			continue
		}
		n++
		for _, c := range p.GetSpec().GetContainers() {
			if v, err := quantity.Milli(c.GetResources().GetRequests()["cpu"]); err == nil {
				cpuMilli += v
			}
			if v, err := quantity.Value(c.GetResources().GetRequests()["memory"]); err == nil {
				memBytes += v
			}
		}
	}
	return n, cpuMilli, memBytes
}

// nodeAllocatable reads a resource from allocatable, else capacity.
func nodeAllocatable(n *v1.Node, name string) string {
	if v := n.GetStatus().GetAllocatable()[name]; v != "" {
		return v
	}
	return n.GetStatus().GetCapacity()[name]
}

func formatCPU(milli int64) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return fmt.Sprintf("%dm", milli)
}

func formatBytes(b int64) string {
	units := []string{"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"}
	for i, u := range units {
		size := int64(1) << (10 * (len(units) - i))
		if b >= size {
			if b%size == 0 {
				return fmt.Sprintf("%d%s", b/size, u)
			}
			return fmt.Sprintf("%.1f%s", float64(b)/float64(size), u)
		}
	}
	return fmt.Sprint(b)
}

// usage renders "used/allocatable" for the CPU and MEMORY columns.
func usage(used string, alloc string, format func(int64) string, parse func(string) (int64, error)) string {
	if alloc == "" {
		return used + "/?"
	}
	if v, err := parse(alloc); err == nil {
		alloc = format(v)
	}
	return used + "/" + alloc
}

func (e *cliEnv) nodeRow(n *v1.Node, pods []*v1.Pod, wide bool) []string {
	md := n.GetMetadata()
	count, cpu, mem := nodeUsage(md.GetName(), pods)
	hb := n.GetStatus().GetLastHeartbeatTime()
	row := []string{md.GetName(), nodeStatus(n), fmt.Sprint(count),
		usage(formatCPU(cpu), nodeAllocatable(n, "cpu"), formatCPU, quantity.Milli),
		usage(formatBytes(mem), nodeAllocatable(n, "memory"), formatBytes, quantity.Value),
		e.age(hb, hb != nil),
		e.age(md.GetCreationTimestamp(), md.GetCreationTimestamp() != nil)}
	if wide {
		var addrs []string
		for _, a := range n.GetStatus().GetAddresses() {
			addrs = append(addrs, a.GetAddress())
		}
		addr := strings.Join(addrs, ",")
		if addr == "" {
			addr = "<none>"
		}
		rt := n.GetStatus().GetRuntime()
		if rt == "" {
			rt = "<none>"
		}
		row = append(row, rt, addr)
	}
	return row
}

// eventTime is when the event last happened.
func eventTime(ev *v1.Event) time.Time {
	switch {
	case ev.GetLastTimestamp() != nil:
		return ev.GetLastTimestamp().AsTime()
	case ev.GetFirstTimestamp() != nil:
		return ev.GetFirstTimestamp().AsTime()
	case ev.GetMetadata().GetCreationTimestamp() != nil:
		return ev.GetMetadata().GetCreationTimestamp().AsTime()
	}
	return time.Time{}
}

func (e *cliEnv) eventRow(ev *v1.Event) []string {
	t := eventTime(ev)
	last := "<unknown>"
	if !t.IsZero() {
		last = humanDuration(e.now().Sub(t))
	}
	obj := strings.ToLower(ev.GetInvolvedObject().GetKind()) + "/" + ev.GetInvolvedObject().GetName()
	return []string{last, ev.GetType(), ev.GetReason(), obj, ev.GetMessage()}
}
