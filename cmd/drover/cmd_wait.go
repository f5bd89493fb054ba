package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

func init() { rootCmd.AddCommand(newWaitCmd(stdEnv)) }

func newWaitCmd(env *cliEnv) *cobra.Command {
	var (
		namespace string
		forCond   string
		timeout   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait KIND/NAME --for=condition=COND",
		Short: "Wait until a Job has a condition, such as Complete",
		Long: `Block until the Job has the condition (status True), printing its progress
(succeeded/active/failed): in place on a terminal, one line per change
otherwise.

Exits 0 when the condition is met, and non-zero when the timeout passes, or
when the Job reaches the other terminal condition (Failed while waiting for
Complete, or the reverse) or is deleted. --timeout 0 checks once; a negative
timeout waits for ever.`,
		Example: `  drover wait job/pi --for=condition=Complete --timeout 2m
  drover wait job pi --for condition=Failed`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return userError(runWait(cmd.Context(), env, args, namespace, forCond, timeout))
		},
	}
	addNamespaceFlag(cmd, &namespace)
	cmd.Flags().StringVar(&forCond, "for", "condition=Complete", "what to wait for: condition=Complete, condition=Failed, condition=Suspended ...")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait (0: check once; negative: for ever)")
	return cmd
}

// parseFor reads --for=condition=NAME[=True]; the name's case is forgiven.
func parseFor(s string) (string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "condition=")
	if !ok || rest == "" {
		return "", fmt.Errorf("--for must be condition=NAME, such as condition=Complete, not %q", s)
	}
	name, value, hasValue := strings.Cut(rest, "=")
	if hasValue && !strings.EqualFold(value, "true") {
		return "", fmt.Errorf("--for: only status True can be awaited, not %q", value)
	}
	for _, known := range []string{client.JobComplete, client.JobFailed, client.JobSuspended, client.JobWaiting, client.JobSuccessCriteriaMet, client.JobFailureTarget} {
		if strings.EqualFold(name, known) {
			return known, nil
		}
	}
	return name, nil
}

func progressLine(k kind, j *v1.Job) string {
	want := "?"
	if j.GetSpec().Completions != nil {
		want = fmt.Sprint(j.GetSpec().GetCompletions())
	}
	st := j.GetStatus()
	return fmt.Sprintf("%s/%s: %d/%s succeeded, %d active, %d failed",
		k.qualified, j.GetMetadata().GetName(), st.GetSucceeded(), want, st.GetActive(), st.GetFailed())
}

func runWait(ctx context.Context, env *cliEnv, args []string, ns, forCond string, timeout time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	k, name, err := splitTarget(args)
	if err != nil {
		return err
	}
	if k != kindJob {
		return fmt.Errorf("wait supports jobs only")
	}
	cond, err := parseFor(forCond)
	if err != nil {
		return err
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	target := k.qualified + "/" + name
	if timeout == 0 {
		job, err := c.Jobs(ns).Get(ctx, name)
		if err != nil {
			return notFound(k, name, err)
		}
		if !client.HasJobCondition(job, cond) {
			return fmt.Errorf("%s does not have condition %s (%s)", target, cond, progressLine(k, job))
		}
		fmt.Fprintf(env.out, "%s condition met\n", target)
		return nil
	}
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	term := env.isTerminal(env.out)
	last := ""
	progress := func(j *v1.Job) {
		line := progressLine(k, j)
		if line == last {
			return
		}
		last = line
		if term {
			fmt.Fprintf(env.out, "\r\x1b[K%s", line)
		} else {
			fmt.Fprintln(env.out, line)
		}
	}
	_, err = c.WaitForJobCondition(wctx, ns, name, cond, progress)
	if term && last != "" {
		fmt.Fprintln(env.out)
	}
	switch {
	case err == nil:
		fmt.Fprintf(env.out, "%s condition met\n", target)
		return nil
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		msg := fmt.Sprintf("timed out after %s waiting for %s to be %s", timeout, target, cond)
		if last != "" {
			msg += " (" + strings.TrimPrefix(last, target+": ") + ")"
		}
		return errors.New(msg)
	}
	return notFound(k, name, err)
}

// notFound rewords a NotFound for kind/name like kubectl.
func notFound(k kind, name string, err error) error {
	if client.IsNotFound(err) {
		return fmt.Errorf("%s %q not found", k.plural, name)
	}
	return err
}
