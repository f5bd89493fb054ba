package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

func init() { rootCmd.AddCommand(newRolloutCmd(stdEnv)) }

func newRolloutCmd(env *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "rollout", Short: "Follow the rollout of a DaemonSet"}
	var (
		namespace string
		timeout   time.Duration
		watch     bool
	)
	status := &cobra.Command{
		Use:   "status daemonset/NAME",
		Short: "Wait until a DaemonSet's pods all run its current template (SPEC D2, D3)",
		Long: `Print the rollout's progress until every eligible node runs an available pod
of the DaemonSet's current template, the way kubectl rollout status does.
With --watch=false it prints the state once. It fails after --timeout
(0: wait for ever).`,
		Example: `  drover rollout status daemonset/agent
  drover rollout status ds agent --timeout 2m`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return userError(runRolloutStatus(cmd.Context(), env, args, namespace, timeout, watch))
		},
	}
	addNamespaceFlag(status, &namespace)
	status.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: never)")
	status.Flags().BoolVarP(&watch, "watch", "w", true, "wait for the rollout to finish")
	cmd.AddCommand(status)
	return cmd
}

// rolloutState says whether a DaemonSet's rollout is done, and if not, why.
func rolloutState(ds *v1.DaemonSet) (bool, string) {
	name, st := ds.GetMetadata().GetName(), ds.GetStatus()
	switch {
	case st.GetObservedGeneration() < ds.GetMetadata().GetGeneration():
		return false, fmt.Sprintf("Waiting for daemon set spec update to be observed...")
	case st.GetUpdatedNumberScheduled() < st.GetDesiredNumberScheduled():
		return false, fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...", name, st.GetUpdatedNumberScheduled(), st.GetDesiredNumberScheduled())
	case st.GetNumberAvailable() < st.GetDesiredNumberScheduled():
		return false, fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...", name, st.GetNumberAvailable(), st.GetDesiredNumberScheduled())
	}
	return true, fmt.Sprintf("daemon set %q successfully rolled out", name)
}

func runRolloutStatus(ctx context.Context, env *cliEnv, args []string, ns string, timeout time.Duration, watch bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	k, name, err := splitTarget(args)
	if err != nil {
		return err
	}
	if k != kindDaemonSet {
		return fmt.Errorf("rollout status supports daemonsets, not %s", k.plural)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ds, err := c.DaemonSets(ns).Get(ctx, name)
	if err != nil {
		return notFound(kindDaemonSet, name, err)
	}
	done, msg := rolloutState(ds)
	fmt.Fprintln(env.out, msg)
	if done || !watch {
		return nil
	}
	w, err := c.DaemonSets(ns).Watch(ctx, client.ListOptions{ResourceVersion: ds.GetMetadata().GetResourceVersion()})
	if err != nil {
		return err
	}
	defer w.Close()
	last := msg
	for {
		ev, err := w.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("timed out waiting for the rollout of daemonset %q", name)
			}
			return err
		}
		if ev.Object.GetMetadata().GetName() != name {
			continue
		}
		if ev.Type == client.Deleted {
			return fmt.Errorf("daemonset %q was deleted", name)
		}
		done, msg := rolloutState(ev.Object)
		if msg != last {
			fmt.Fprintln(env.out, msg)
			last = msg
		}
		if done {
			return nil
		}
	}
}
