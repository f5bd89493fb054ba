package main

// CronJobs in the CLI: the get table, describe, `drover create job --from
// cronjob/NAME`, `drover suspend|resume cronjob NAME`, and apply (SPEC C1-C6).

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/validation"
)

func init() { rootCmd.AddCommand(newCreateCmd(stdEnv)) }

// addCronMinuteFlag defines the hidden --cron-minute test hook of `drover
// controller` and `drover dev`: the length of a CronJob schedule minute.
// With 1s, "* * * * *" runs every second and every schedule runs 60 times
// faster; Jobs are then named by seconds since the epoch. The production
// code path is the same (docs/cronjobs-daemonsets.md).
func addCronMinuteFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "cron-minute", time.Minute, "length of a CronJob schedule minute (a test hook)")
	_ = cmd.Flags().MarkHidden("cron-minute")
}

var cronJobHeader = []string{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "NEXT RUN", "AGE"}

// nextRun is when the CronJob runs next, computed here from its schedule
// and zone: "in 42s", "<suspended>", or "<none>" for a schedule that never
// fires. It assumes the controller's real-time schedule minute.
func (e *cliEnv) nextRun(cj *v1.CronJob) string {
	s := cj.GetSpec()
	if s.GetSuspend() {
		return "<suspended>"
	}
	sched, loc, err := validation.ParseSchedule(s.GetSchedule(), s.GetTimeZone())
	if err != nil {
		return "<invalid>"
	}
	now := e.now()
	next := sched.Next(now.In(loc))
	if next.IsZero() {
		return "<none>"
	}
	return "in " + humanDuration(next.Sub(now))
}

func (e *cliEnv) cronJobRow(cj *v1.CronJob, wide bool) []string {
	md, s, st := cj.GetMetadata(), cj.GetSpec(), cj.GetStatus()
	tz := s.GetTimeZone()
	if tz == "" {
		tz = "<none>"
	}
	last := "<none>"
	if st.GetLastScheduleTime() != nil {
		last = e.age(st.GetLastScheduleTime(), true)
	}
	row := []string{md.GetName(), s.GetSchedule(), tz, fmt.Sprint(s.GetSuspend()), fmt.Sprint(len(st.GetActive())), last, e.nextRun(cj),
		e.age(md.GetCreationTimestamp(), md.GetCreationTimestamp() != nil)}
	if wide {
		names, images := containerColumns(s.GetJobTemplate().GetSpec().GetTemplate().GetSpec().GetContainers())
		row = append(row, names, images, selectorColumn(s.GetJobTemplate().GetSpec().GetSelector()))
	}
	return row
}

func containerColumns(cs []*v1.Container) (names, images string) {
	var n, i []string
	for _, c := range cs {
		n = append(n, c.GetName())
		i = append(i, c.GetImage())
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

func selectorColumn(sel *v1.LabelSelector) string {
	if sel == nil {
		return "<none>"
	}
	if s, err := labels.FromLabelSelector(sel); err == nil && s.String() != "" {
		return s.String()
	}
	return "<none>"
}

// describeCronJob writes a CronJob the way kubectl describe does.
func (e *cliEnv) describeCronJob(w io.Writer, cj *v1.CronJob, jobs []*v1.Job, events []*v1.Event) error {
	d := newDescriber(w)
	md, s, st := cj.GetMetadata(), cj.GetSpec(), cj.GetStatus()
	d.line(0, "Name:\t%s", md.GetName())
	d.line(0, "Namespace:\t%s", md.GetNamespace())
	d.multi(0, "Labels", mapString(md.GetLabels()))
	d.multi(0, "Annotations", mapString(md.GetAnnotations()))
	d.line(0, "Schedule:\t%s", s.GetSchedule())
	tz := s.GetTimeZone()
	if tz == "" {
		tz = "<unset> (UTC)"
	}
	d.line(0, "Time Zone:\t%s", tz)
	d.line(0, "Concurrency Policy:\t%s", s.GetConcurrencyPolicy())
	d.line(0, "Suspend:\t%t", s.GetSuspend())
	d.line(0, "Successful Job History Limit:\t%s", optional32(s.SuccessfulJobsHistoryLimit))
	d.line(0, "Failed Job History Limit:\t%s", optional32(s.FailedJobsHistoryLimit))
	d.line(0, "Starting Deadline Seconds:\t%s", optional64(s.StartingDeadlineSeconds))
	d.line(0, "Next Run:\t%s", e.nextRun(cj))
	d.line(0, "Job Template:")
	js := s.GetJobTemplate().GetSpec()
	d.line(1, "Parallelism:\t%s", optional32(js.Parallelism))
	d.line(1, "Completions:\t%s", optional32(js.Completions))
	d.line(1, "Pod Template:")
	tmpl := js.GetTemplate()
	d.multi(2, "Labels", mapString(tmpl.GetMetadata().GetLabels()))
	e.describeContainers(d, 2, tmpl.GetSpec().GetContainers(), nil)
	d.line(2, "Restart Policy:\t%s", tmpl.GetSpec().GetRestartPolicy())
	d.line(0, "Last Schedule Time:\t%s", e.timestamp(st.GetLastScheduleTime()))
	d.line(0, "Last Successful Time:\t%s", e.timestamp(st.GetLastSuccessfulTime()))
	var active []string
	for _, a := range st.GetActive() {
		active = append(active, a.GetName())
	}
	if len(active) == 0 {
		active = []string{"<none>"}
	}
	d.line(0, "Active Jobs:\t%s", strings.Join(active, ", "))
	d.line(0, "Jobs:")
	if len(jobs) == 0 {
		d.line(1, "<none>")
	} else {
		sort.Slice(jobs, func(a, b int) bool { return jobs[a].GetMetadata().GetName() < jobs[b].GetMetadata().GetName() })
		d.line(1, "Name\tStatus\tCompletions\tAge")
		d.line(1, "----\t------\t-----------\t---")
		for _, j := range jobs {
			d.line(1, "%s\t%s\t%s\t%s", j.GetMetadata().GetName(), jobStatus(j), jobCompletions(j), e.age(j.GetMetadata().GetCreationTimestamp(), true))
		}
	}
	e.describeEvents(d, events)
	return d.flush()
}

// runDescribeCronJob is `drover describe cronjob NAME`.
func (e *cliEnv) runDescribeCronJob(ctx context.Context, c *client.Client, ns, name string) error {
	cj, err := c.CronJobs(ns).Get(ctx, name)
	if err != nil {
		return notFound(kindCronJob, name, err)
	}
	all, err := c.Jobs(ns).List(ctx, client.ListOptions{})
	if err != nil {
		return err
	}
	var jobs []*v1.Job
	for _, j := range all.Items {
		for _, r := range j.GetMetadata().GetOwnerReferences() {
			if r.GetKind() == "CronJob" && r.GetUid() == cj.GetMetadata().GetUid() {
				jobs = append(jobs, j)
			}
		}
	}
	events, err := objectEvents(ctx, c, ns, "CronJob", cj.GetMetadata())
	if err != nil {
		return err
	}
	return e.describeCronJob(e.out, cj, jobs, events)
}

func newCreateCmd(env *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an object from another (create job --from cronjob/NAME)",
	}
	var namespace, from string
	job := &cobra.Command{
		Use:   "job NAME --from cronjob/NAME",
		Short: "Run a CronJob's Job template now, as a Job named NAME",
		Long: `Create a Job from a CronJob's jobTemplate, to run it by hand. The Job is
owned by the CronJob (so its history limits and deletion apply to it) and
annotated cronjob.kubernetes.io/instantiate: manual, as kubectl does.`,
		Example: `  drover create job nightly-manual --from cronjob/nightly`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return userError(runCreateJobFrom(cmd.Context(), env, args[0], from, namespace))
		},
	}
	job.Flags().StringVar(&from, "from", "", "the object to copy: cronjob/NAME")
	addNamespaceFlag(job, &namespace)
	cmd.AddCommand(job)
	return cmd
}

func runCreateJobFrom(ctx context.Context, env *cliEnv, name, from, ns string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	k, src, err := splitTarget([]string{from})
	if err != nil || k != kindCronJob {
		return fmt.Errorf("--from must be cronjob/NAME")
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	cj, err := c.CronJobs(ns).Get(ctx, src)
	if err != nil {
		return notFound(kindCronJob, src, err)
	}
	tmpl := cj.GetSpec().GetJobTemplate()
	job := &v1.Job{ApiVersion: "batch/v1", Kind: "Job", Metadata: &v1.ObjectMeta{
		Name: name, Namespace: cj.GetMetadata().GetNamespace(),
		Labels:      map[string]string{},
		Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
		OwnerReferences: []*v1.OwnerReference{{ApiVersion: "batch/v1", Kind: "CronJob", Name: cj.GetMetadata().GetName(),
			Uid: cj.GetMetadata().GetUid(), Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}},
	}}
	for k, v := range tmpl.GetMetadata().GetLabels() {
		job.Metadata.Labels[k] = v
	}
	for k, v := range tmpl.GetMetadata().GetAnnotations() {
		job.Metadata.Annotations[k] = v
	}
	if tmpl.GetSpec() != nil {
		job.Spec = proto.Clone(tmpl.GetSpec()).(*v1.JobSpec)
	}
	if _, err := c.Jobs(job.Metadata.Namespace).Create(ctx, job); err != nil {
		return err
	}
	fmt.Fprintf(env.out, "job.batch/%s created\n", name)
	return nil
}

// suspendCronJobs handles `drover suspend|resume cronjob NAME...` (SPEC
// C6); it reports false when args do not name cronjobs, for runSuspend to
// handle as Jobs.
func suspendCronJobs(ctx context.Context, env *cliEnv, args []string, ns string, suspend bool) (bool, error) {
	var names []string
	switch {
	case len(args) == 0:
		return false, nil
	case strings.Contains(args[0], "/"):
		for _, a := range args {
			k, name, err := splitTarget([]string{a})
			if err != nil || k != kindCronJob {
				return false, nil
			}
			names = append(names, name)
		}
	default:
		k, err := parseKind(args[0])
		if err != nil || k != kindCronJob {
			return false, nil
		}
		if len(args) < 2 {
			return true, fmt.Errorf("name the cronjob")
		}
		names = args[1:]
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := env.connect(ctx)
	if err != nil {
		return true, err
	}
	defer c.Close()
	verb := map[bool]string{true: "suspended", false: "resumed"}[suspend]
	for _, name := range names {
		changed := false
		for {
			cj, err := c.CronJobs(ns).Get(ctx, name)
			if client.IsNotFound(err) {
				return true, fmt.Errorf("cronjobs.batch %q not found", name)
			}
			if err != nil {
				return true, err
			}
			if cj.GetSpec().GetSuspend() == suspend {
				break
			}
			cj.Spec.Suspend = proto.Bool(suspend)
			_, err = c.CronJobs(ns).Update(ctx, cj)
			if client.IsConflict(err) {
				continue
			}
			if err != nil {
				return true, err
			}
			changed = true
			break
		}
		if changed {
			fmt.Fprintf(env.out, "cronjob.batch/%s %s\n", name, verb)
		} else {
			fmt.Fprintf(env.out, "cronjob.batch/%s already %s\n", name, verb)
		}
	}
	return true, nil
}

// prepareWorkload defaults and validates a CronJob or DaemonSet for apply
// (as the server will see it), setting its namespace. It returns the
// object's field errors, prefixed for multi-object input.
func prepareWorkload(o manifestObject, i, count int, ns, defaultNS string) ([]string, error) {
	md := o.GetMetadata()
	if md == nil {
		return []string{"metadata: required"}, nil
	}
	switch {
	case md.Namespace == "" && ns != "":
		md.Namespace = ns
	case md.Namespace == "":
		md.Namespace = defaultNS
	case ns != "" && md.Namespace != ns:
		return nil, fmt.Errorf("the namespace of %s %q (%s) does not match --namespace %s", kindOf(o).name, md.GetName(), md.Namespace, ns)
	}
	var err error
	switch x := o.(type) {
	case *v1.CronJob:
		d := proto.Clone(x).(*v1.CronJob)
		validation.DefaultCronJob(d)
		err = validation.ValidateCronJob(d)
	case *v1.DaemonSet:
		d := proto.Clone(x).(*v1.DaemonSet)
		validation.DefaultDaemonSet(d)
		err = validation.ValidateDaemonSet(d)
	}
	var lines []string
	if l, ok := validation.AsErrorList(err); ok {
		for _, fe := range l {
			if count > 1 {
				lines = append(lines, fmt.Sprintf("%s/%s (object %d): %s", kindOf(o).qualified, md.GetName(), i+1, fe.Error()))
			} else {
				lines = append(lines, fe.Error())
			}
		}
	}
	return lines, nil
}

// prepareWorkloads picks the CronJobs and DaemonSets out of a manifest's
// objects (copies, namespaced) and validates them all; it returns every
// field error of every one, or the objects.
func prepareWorkloads(objs []manifest.Object, ns, defaultNS string) ([]manifestObject, error) {
	if defaultNS == "" {
		defaultNS = "default"
	}
	var out []manifestObject
	var lines []string
	for i, o := range objs {
		w, ok := o.(manifestObject)
		if _, isJob := o.(*v1.Job); !ok || isJob {
			continue
		}
		w = proto.Clone(w).(manifestObject)
		l, err := prepareWorkload(w, i, len(objs), ns, defaultNS)
		if err != nil {
			return nil, err
		}
		lines = append(lines, l...)
		out = append(out, w)
	}
	if len(lines) > 0 {
		return nil, &cliError{lines: lines}
	}
	return out, nil
}

// manifestObject is a CronJob or DaemonSet read from a manifest.
type manifestObject interface {
	proto.Message
	GetMetadata() *v1.ObjectMeta
}

func kindOf(o manifestObject) kind {
	if _, ok := o.(*v1.DaemonSet); ok {
		return kindDaemonSet
	}
	return kindCronJob
}

// applyWorkload creates a CronJob or DaemonSet, or replaces the spec,
// labels and annotations of the existing one; it returns "created",
// "configured" or "unchanged".
func applyWorkload(ctx context.Context, c *client.Client, o manifestObject, dryRun bool) (string, error) {
	ns := o.GetMetadata().GetNamespace()
	switch x := o.(type) {
	case *v1.CronJob:
		cl := c.CronJobs(ns)
		return applyObject(ctx, x, dryRun, cl.Get, cl.Create, cl.Update, validation.DefaultCronJob,
			func(dst, src *v1.CronJob) { dst.Spec = src.Spec })
	case *v1.DaemonSet:
		cl := c.DaemonSets(ns)
		return applyObject(ctx, x, dryRun, cl.Get, cl.Create, cl.Update, validation.DefaultDaemonSet,
			func(dst, src *v1.DaemonSet) { dst.Spec = src.Spec })
	}
	return "", fmt.Errorf("apply does not support %T", o)
}

// applyObject creates want, or updates the stored object to want's spec,
// labels and annotations (compared after defaulting); a conflicting
// concurrent write is retried.
func applyObject[T manifestObject](ctx context.Context, want T, dryRun bool,
	get func(context.Context, string) (T, error),
	create func(context.Context, T, ...client.CreateOption) (T, error),
	update func(context.Context, T) (T, error),
	defaults func(T), setSpec func(dst, src T),
) (string, error) {
	var opts []client.CreateOption
	if dryRun {
		opts = append(opts, client.DryRun())
	}
	for attempt := 0; ; attempt++ {
		cur, err := get(ctx, want.GetMetadata().GetName())
		result := "created"
		switch {
		case client.IsNotFound(err):
			_, err = create(ctx, want, opts...)
		case err == nil:
			w := proto.Clone(want).(T)
			defaults(w)
			upd := proto.Clone(cur).(T)
			setSpec(upd, w)
			upd.GetMetadata().Labels, upd.GetMetadata().Annotations = w.GetMetadata().GetLabels(), w.GetMetadata().GetAnnotations()
			if proto.Equal(upd, cur) {
				return "unchanged", nil
			}
			result = "configured"
			if !dryRun {
				_, err = update(ctx, upd)
			}
		}
		if (client.IsConflict(err) || client.IsAlreadyExists(err)) && attempt < 3 {
			continue
		}
		return result, err
	}
}

// applyWorkloads prepares and applies the CronJobs and DaemonSets of a
// manifest, after the Jobs, printing one line each.
func applyWorkloads(ctx context.Context, env *cliEnv, c *client.Client, objs []manifestObject, dryRun bool) error {
	suffix := ""
	if dryRun {
		suffix = " (dry run)"
	}
	for _, o := range objs {
		result, err := applyWorkload(ctx, c, o, dryRun)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.out, "%s/%s %s%s\n", kindOf(o).qualified, o.GetMetadata().GetName(), result, suffix)
	}
	return nil
}
