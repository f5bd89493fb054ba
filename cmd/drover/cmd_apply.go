package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/validation"
)

func init() { rootCmd.AddCommand(newApplyCmd(stdEnv)) }

func newApplyCmd(env *cliEnv) *cobra.Command {
	var (
		files     []string
		namespace string
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update Jobs from YAML or JSON manifests",
		Long: `Create the objects of one or more manifests, or update those that exist.

Manifests are Kubernetes-shaped YAML or JSON (apiVersion batch/v1, kind Job),
several documents a file separated by '---'. '-f -' reads standard input and
'-f DIR' every .yaml, .yml and .json file of DIR. Every document is parsed
and validated before anything is sent, so one bad document changes nothing.

An existing Job gets the spec fields that may change and that the manifest
sets (parallelism, completions, suspend, activeDeadlineSeconds,
ttlSecondsAfterFinished); a changed pod template is sent too, and the server
refuses it.`,
		Example: `  drover apply -f examples/pi.yaml
  cat job.yaml | drover apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(files) == 0 {
				return fmt.Errorf("-f is required")
			}
			ns := ""
			if cmd.Flags().Changed("namespace") {
				ns = namespace
			}
			return userError(runApply(cmd.Context(), env, files, ns, dryRun))
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "manifest file, directory, or - for standard input (repeatable)")
	addNamespaceFlag(cmd, &namespace)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "have the server validate new objects without storing them")
	return cmd
}

// readManifests reads and parses every file, '-' being stdin; a directory
// contributes its .yaml, .yml and .json files in name order.
func readManifests(env *cliEnv, files []string) ([]manifest.Object, error) {
	var objs []manifest.Object
	for _, f := range files {
		var paths []string
		if f == "-" {
			paths = []string{"-"}
		} else if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			entries, err := os.ReadDir(f)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				switch strings.ToLower(filepath.Ext(e.Name())) {
				case ".yaml", ".yml", ".json":
					paths = append(paths, filepath.Join(f, e.Name()))
				}
			}
			sort.Strings(paths)
		} else {
			paths = []string{f}
		}
		for _, p := range paths {
			var data []byte
			var err error
			if p == "-" {
				data, err = io.ReadAll(env.in)
			} else {
				data, err = os.ReadFile(p)
			}
			if err != nil {
				return nil, err
			}
			got, err := manifest.Parse(data)
			if err != nil {
				if len(files) > 1 || len(paths) > 1 {
					return nil, prefixError(p, err)
				}
				return nil, err
			}
			objs = append(objs, got...)
		}
	}
	return objs, nil
}

// prefixError names the file in each line of a parse error.
func prefixError(file string, err error) error {
	if e, ok := userError(err).(*cliError); ok {
		lines := make([]string, len(e.lines))
		for i, l := range e.lines {
			lines[i] = file + ": " + l
		}
		return &cliError{lines: lines}
	}
	return fmt.Errorf("%s: %w", file, err)
}

// prepare sets the namespace of each Job and validates it (defaulted, as
// the server will see it). It returns every error of every object.
//
// ns is the explicit -n ("" without); def is the namespace of objects that
// name none and get no -n (DROVER_NAMESPACE or the config file's, else
// "default").
func prepare(objs []manifest.Object, ns, def string) ([]*v1.Job, error) {
	var jobs []*v1.Job
	var lines []string
	for i, o := range objs {
		job, ok := o.(*v1.Job)
		if !ok {
			continue // CronJobs and DaemonSets: prepareWorkloads (cmd_cronjob.go)
		}
		job = proto.Clone(job).(*v1.Job)
		if job.Metadata == nil {
			job.Metadata = &v1.ObjectMeta{}
		}
		switch {
		case job.Metadata.Namespace == "" && ns != "":
			job.Metadata.Namespace = ns
		case job.Metadata.Namespace == "" && def != "":
			job.Metadata.Namespace = def
		case job.Metadata.Namespace == "":
			job.Metadata.Namespace = "default"
		case ns != "" && job.Metadata.Namespace != ns:
			return nil, fmt.Errorf("the namespace of job %q (%s) does not match --namespace %s", job.Metadata.GetName(), job.Metadata.Namespace, ns)
		}
		defaulted := proto.Clone(job).(*v1.Job)
		validation.DefaultJob(defaulted)
		if err := validation.ValidateJob(defaulted); err != nil {
			l, _ := validation.AsErrorList(err)
			for _, fe := range l {
				if len(objs) > 1 {
					lines = append(lines, fmt.Sprintf("job.batch/%s (object %d): %s", job.Metadata.GetName(), i+1, fe.Error()))
				} else {
					lines = append(lines, fe.Error())
				}
			}
		}
		jobs = append(jobs, job)
	}
	if len(lines) > 0 {
		return nil, &cliError{lines: lines}
	}
	return jobs, nil
}

func runApply(ctx context.Context, env *cliEnv, files []string, ns string, dryRun bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	objs, err := readManifests(env, files)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return fmt.Errorf("no objects found in %s", strings.Join(files, ", "))
	}
	jobs, err := prepare(objs, ns, env.namespace)
	if err != nil {
		return err
	}
	workloads, err := prepareWorkloads(objs, ns, env.namespace)
	if err != nil {
		return err
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	suffix := ""
	if dryRun {
		suffix = " (dry run)"
	}
	for _, job := range jobs {
		result, err := applyJob(ctx, c, job, dryRun)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.out, "job.batch/%s %s%s\n", job.GetMetadata().GetName(), result, suffix)
	}
	return applyWorkloads(ctx, env, c, workloads, dryRun)
}

// applyJob creates job, or updates the existing one; it returns "created",
// "configured" or "unchanged". A conflicting concurrent update is retried.
func applyJob(ctx context.Context, c *client.Client, job *v1.Job, dryRun bool) (string, error) {
	jobs := c.Jobs(job.GetMetadata().GetNamespace())
	for attempt := 0; ; attempt++ {
		existing, err := jobs.Get(ctx, job.GetMetadata().GetName())
		if client.IsNotFound(err) {
			var opts []client.CreateOption
			if dryRun {
				opts = append(opts, client.DryRun())
			}
			_, err := jobs.Create(ctx, job, opts...)
			if client.IsAlreadyExists(err) && attempt < 3 {
				continue
			}
			if err != nil {
				return "", err
			}
			return "created", nil
		}
		if err != nil {
			return "", err
		}
		updated, changed := mergeJob(existing, job)
		if !changed {
			return "unchanged", nil
		}
		if dryRun {
			return "configured", nil
		}
		_, err = jobs.Update(ctx, updated)
		if client.IsConflict(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return "", err
		}
		return "configured", nil
	}
}

// mergeJob returns existing with the mutable spec fields that want sets,
// and whether anything changed. The pod template's spec is taken from want
// when it differs (after defaulting), so that the server can refuse it.
func mergeJob(existing, want *v1.Job) (*v1.Job, bool) {
	out := proto.Clone(existing).(*v1.Job)
	if out.Spec == nil {
		out.Spec = &v1.JobSpec{}
	}
	w := want.GetSpec()
	s := out.Spec
	changed := false
	set32 := func(dst **int32, src *int32) {
		if src != nil && (*dst == nil || **dst != *src) {
			*dst = proto.Int32(*src)
			changed = true
		}
	}
	set32(&s.Parallelism, w.Parallelism)
	set32(&s.Completions, w.Completions)
	set32(&s.TtlSecondsAfterFinished, w.TtlSecondsAfterFinished)
	if w.ActiveDeadlineSeconds != nil && (s.ActiveDeadlineSeconds == nil || s.GetActiveDeadlineSeconds() != w.GetActiveDeadlineSeconds()) {
		s.ActiveDeadlineSeconds = proto.Int64(w.GetActiveDeadlineSeconds())
		changed = true
	}
	if w.Suspend != nil && s.GetSuspend() != w.GetSuspend() {
		s.Suspend = proto.Bool(w.GetSuspend())
		changed = true
	}
	defaulted := proto.Clone(want).(*v1.Job)
	validation.DefaultJob(defaulted)
	if wt := defaulted.GetSpec().GetTemplate().GetSpec(); wt != nil && !proto.Equal(wt, s.GetTemplate().GetSpec()) {
		if s.Template == nil {
			s.Template = &v1.PodTemplateSpec{}
		}
		s.Template.Spec = proto.Clone(wt).(*v1.PodSpec)
		changed = true
	}
	return out, changed
}
