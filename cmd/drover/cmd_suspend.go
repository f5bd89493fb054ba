package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/pkg/client"
)

func init() {
	rootCmd.AddCommand(newSuspendCmd(stdEnv, true), newSuspendCmd(stdEnv, false))
}

// newSuspendCmd is `drover suspend job NAME` (suspend true) or `drover
// resume job NAME` (SPEC J9).
func newSuspendCmd(env *cliEnv, suspend bool) *cobra.Command {
	var namespace string
	verb, long := "resume", `Resume a suspended Job: it creates pods again, and its activeDeadlineSeconds
timer starts over (SPEC J9).`
	if suspend {
		verb, long = "suspend", `Suspend a Job: its running pods are stopped gracefully (SIGTERM, then SIGKILL
after terminationGracePeriodSeconds) without counting as failed, and no new
ones start until it is resumed with 'drover resume job NAME' (SPEC J9).`
	}
	cmd := &cobra.Command{
		Use:     verb + " (job NAME... | job/NAME...)",
		Short:   map[bool]string{true: "Suspend jobs", false: "Resume suspended jobs"}[suspend],
		Long:    long,
		Example: fmt.Sprintf("  drover %s job pi\n  drover %s job/pi -n batch", verb, verb),
		RunE: func(cmd *cobra.Command, args []string) error {
			return userError(runSuspend(cmd.Context(), env, args, namespace, suspend))
		},
	}
	addNamespaceFlag(cmd, &namespace)
	return cmd
}

func runSuspend(ctx context.Context, env *cliEnv, args []string, ns string, suspend bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if handled, err := suspendCronJobs(ctx, env, args, ns, suspend); handled {
		return err // SPEC C6: cmd_cronjob.go
	}
	var names []string
	switch {
	case len(args) == 0:
		return fmt.Errorf("name the job: job NAME or job/NAME")
	case strings.Contains(args[0], "/"):
		for _, a := range args {
			k, name, err := splitTarget([]string{a})
			if err != nil {
				return err
			}
			if k != kindJob {
				return fmt.Errorf("only jobs can be suspended or resumed, not %s", k.plural)
			}
			names = append(names, name)
		}
	default:
		k, err := parseKind(args[0])
		if err != nil {
			return err
		}
		if k != kindJob {
			return fmt.Errorf("only jobs can be suspended or resumed, not %s", k.plural)
		}
		if len(args) < 2 {
			return fmt.Errorf("name the job")
		}
		names = args[1:]
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	verb := map[bool]string{true: "suspended", false: "resumed"}[suspend]
	for _, name := range names {
		changed, err := setSuspend(ctx, c, ns, name, suspend)
		if client.IsNotFound(err) {
			return fmt.Errorf("jobs.batch %q not found", name)
		}
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintf(env.out, "job.batch/%s already %s\n", name, verb)
			continue
		}
		fmt.Fprintf(env.out, "job.batch/%s %s\n", name, verb)
	}
	return nil
}

// setSuspend sets spec.suspend with a read-modify-write guarded by the
// Job's resourceVersion, retried on conflict (the controller writes the
// Job's status meanwhile). It reports whether the Job changed.
func setSuspend(ctx context.Context, c *client.Client, ns, name string, suspend bool) (bool, error) {
	for {
		job, err := c.Jobs(ns).Get(ctx, name)
		if err != nil {
			return false, err
		}
		if job.GetSpec().GetSuspend() == suspend {
			return false, nil
		}
		if job.Spec == nil {
			return false, fmt.Errorf("job %q has no spec", name)
		}
		job.Spec.Suspend = proto.Bool(suspend)
		_, err = c.Jobs(ns).Update(ctx, job)
		if client.IsConflict(err) {
			continue
		}
		return err == nil, err
	}
}
