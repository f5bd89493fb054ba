package main

// drover cordon, uncordon and drain (SPEC N5).

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

func init() {
	rootCmd.AddCommand(newCordonCmd(stdEnv, true), newCordonCmd(stdEnv, false), newDrainCmd(stdEnv))
}

func newCordonCmd(env *cliEnv, cordon bool) *cobra.Command {
	use, short, long := "cordon NODE...", "Mark nodes unschedulable", `Mark nodes unschedulable: the scheduler binds no new pod to them (SPEC N5,
S1). Pods already running there keep running; use drain to move them.`
	if !cordon {
		use, short, long = "uncordon NODE...", "Mark nodes schedulable again", `Mark nodes schedulable again: the scheduler may bind new pods to them.`
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: "  drover " + strings.Fields(use)[0] + " worker-1",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, err := env.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			for _, name := range args {
				if err := setUnschedulable(ctx, env, c, name, cordon); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// setUnschedulable sets a node's spec.unschedulable, retrying on conflict,
// and prints what it did as kubectl does ("node/w1 cordoned").
func setUnschedulable(ctx context.Context, env *cliEnv, c *client.Client, name string, on bool) error {
	verb := "cordoned"
	if !on {
		verb = "uncordoned"
	}
	for {
		n, err := c.Nodes().Get(ctx, name)
		if err != nil {
			return notFound(kindNode, name, err)
		}
		if n.GetSpec().GetUnschedulable() == on {
			fmt.Fprintf(env.out, "node/%s already %s\n", name, verb)
			return nil
		}
		if n.Spec == nil {
			n.Spec = &v1.NodeSpec{}
		}
		n.Spec.Unschedulable = on
		_, err = c.Nodes().Update(ctx, n) // guarded by n's resourceVersion
		if client.IsConflict(err) || client.IsUnavailable(err) {
			continue
		}
		if err != nil {
			return notFound(kindNode, name, err)
		}
		fmt.Fprintf(env.out, "node/%s %s\n", name, verb)
		return nil
	}
}

func newDrainCmd(env *cliEnv) *cobra.Command {
	var (
		timeout time.Duration
		poll    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Cordon a node and stop its pods so that their Jobs replace them elsewhere",
		Long: `Drain a node (SPEC N5): cordon it, then delete each of its pods that has not
finished. A deleted pod is stopped gracefully by its worker (SIGTERM, then
SIGKILL after its terminationGracePeriodSeconds) and its Job creates a
replacement, which the scheduler binds to another node. drain waits, printing
its progress, until no pod runs on the node, or --timeout passes (0 waits
forever). A pod that no Job owns is deleted and not replaced. An evicted pod
that exits non-zero on SIGTERM counts as failed for its Job. The node stays
cordoned; uncordon it to use it again.`,
		Example: `  drover drain worker-1
  drover drain worker-1 --timeout 2m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runDrain(ctx, env, args[0], timeout, poll)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the pods to stop (0: forever)")
	cmd.Flags().DurationVar(&poll, "poll-interval", 500*time.Millisecond, "how often to check the node's pods")
	_ = cmd.Flags().MarkHidden("poll-interval")
	return cmd
}

func runDrain(ctx context.Context, env *cliEnv, node string, timeout, poll time.Duration) error {
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := setUnschedulable(ctx, env, c, node, true); err != nil {
		return err
	}
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	evicted := map[string]bool{}
	last := ""
	for {
		running, err := podsOnNode(wctx, c, node)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return fmt.Errorf("timed out after %s draining node/%s", timeout, node)
			}
			return err
		}
		for _, p := range running {
			id := p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
			if evicted[id] || p.GetMetadata().GetDeletionTimestamp() != nil {
				continue
			}
			_, err := c.Pods(p.GetMetadata().GetNamespace()).Delete(wctx, p.GetMetadata().GetName(), client.DeleteOptions{})
			if err != nil && !client.IsNotFound(err) {
				return fmt.Errorf("evict pod %s: %w", id, err)
			}
			evicted[id] = true
			fmt.Fprintf(env.out, "evicting pod %s\n", id)
		}
		if len(running) == 0 {
			fmt.Fprintf(env.out, "node/%s drained\n", node)
			return nil
		}
		names := make([]string, len(running))
		for i, p := range running {
			names[i] = p.GetMetadata().GetName()
		}
		sort.Strings(names)
		if line := fmt.Sprintf("waiting for %d pod(s) to stop: %s", len(names), strings.Join(names, ", ")); line != last {
			fmt.Fprintln(env.out, line)
			last = line
		}
		select {
		case <-wctx.Done():
			if ctx.Err() == nil {
				return fmt.Errorf("timed out after %s draining node/%s: %d pod(s) still running", timeout, node, len(running))
			}
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// podsOnNode lists the pods bound to node that have not finished.
func podsOnNode(ctx context.Context, c *client.Client, node string) ([]*v1.Pod, error) {
	l, err := c.Pods("").List(ctx, client.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*v1.Pod
	for _, p := range l.Items {
		if p.GetSpec().GetNodeName() == node && podActive(p) && !daemonPod(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// daemonPod reports whether a DaemonSet controls p. Drain leaves daemon
// pods alone, as kubectl drain --ignore-daemonsets does: a cordoned node
// stays eligible for its DaemonSets (docs/cronjobs-daemonsets.md), which
// would recreate an evicted one at once.
func daemonPod(p *v1.Pod) bool {
	for _, r := range p.GetMetadata().GetOwnerReferences() {
		if r.GetController() && r.GetKind() == "DaemonSet" {
			return true
		}
	}
	return false
}
