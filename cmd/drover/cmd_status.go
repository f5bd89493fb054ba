package main

// drover status: who leads the controller replicas (SPEC L1) and how many
// nodes are Ready.

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/client"
)

func init() { rootCmd.AddCommand(newStatusCmd(stdEnv)) }

func newStatusCmd(env *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show which controller replica leads, its fencing revision, and the nodes",
		Long: `Show the cluster's leader (the controller replica that reconciles, SPEC L1),
its fencing revision (the create revision of its election key: every write
the leader makes is checked against it), the replica that answered this
request, and how many nodes are Ready and cordoned.`,
		Example: "  drover status\n  drover status --server c1:7070,c2:7070",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runStatus(ctx, env)
		},
	}
}

func runStatus(ctx context.Context, env *cliEnv) error {
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	nodes, err := c.Nodes().List(ctx, client.ListOptions{})
	if err != nil {
		return err
	}
	ready, cordoned := 0, 0
	for _, n := range nodes.Items {
		if nodeStatus(n) == "Ready" || nodeStatus(n) == "Ready,SchedulingDisabled" {
			ready++
		}
		if n.GetSpec().GetUnschedulable() {
			cordoned++
		}
	}
	leader, rev := l.Identity, fmt.Sprint(l.Revision)
	if leader == "" {
		leader, rev = "<none>", "-"
	}
	w := newTable(env.out)
	fmt.Fprintf(w, "Leader:\t%s\n", leader)
	fmt.Fprintf(w, "Fencing revision:\t%s\n", rev)
	fmt.Fprintf(w, "Answered by:\t%s\n", l.ServingIdentity)
	fmt.Fprintf(w, "Nodes:\t%d/%d Ready, %d cordoned\n", ready, len(nodes.Items), cordoned)
	return w.Flush()
}
