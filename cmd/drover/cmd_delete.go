package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

func init() { rootCmd.AddCommand(newDeleteCmd(stdEnv)) }

func newDeleteCmd(env *cliEnv) *cobra.Command {
	var (
		namespace string
		cascade   string
		files     []string
	)
	cmd := &cobra.Command{
		Use:   "delete (KIND NAME... | KIND/NAME... | -f FILE)",
		Short: "Delete jobs, cronjobs, daemonsets, pods or nodes",
		Long: `Delete objects by kind and name, or those of a manifest.

Deleting a Job deletes its pods (--cascade=background, the default, returns at
once; foreground deletes the pods before the Job); --cascade=orphan leaves
them running and unowned (SPEC J12).`,
		Example: `  drover delete job pi
  drover delete job/pi --cascade=orphan
  drover delete -f examples/pi.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := propagation(cascade)
			if err != nil {
				return err
			}
			return userError(runDelete(cmd.Context(), env, args, files, namespace, policy))
		},
	}
	addNamespaceFlag(cmd, &namespace)
	cmd.Flags().StringVar(&cascade, "cascade", "background", "what happens to a Job's pods: background, foreground or orphan")
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "delete the objects of these manifests")
	return cmd
}

func propagation(cascade string) (string, error) {
	switch strings.ToLower(cascade) {
	case "background", "true":
		return client.DeleteBackground, nil
	case "foreground":
		return client.DeleteForeground, nil
	case "orphan", "false":
		return client.DeleteOrphan, nil
	}
	return "", fmt.Errorf("--cascade must be background, foreground or orphan, not %q", cascade)
}

type deleteTarget struct {
	kind      kind
	namespace string
	name      string
}

func runDelete(ctx context.Context, env *cliEnv, args, files []string, ns, policy string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var targets []deleteTarget
	switch {
	case len(files) > 0 && len(args) > 0:
		return fmt.Errorf("give either -f or names, not both")
	case len(files) > 0:
		objs, err := readManifests(env, files)
		if err != nil {
			return err
		}
		for _, o := range objs {
			var k kind
			switch o.(type) {
			case *v1.Job:
				k = kindJob
			case *v1.CronJob:
				k = kindCronJob
			case *v1.DaemonSet:
				k = kindDaemonSet
			default:
				continue
			}
			md := o.(interface{ GetMetadata() *v1.ObjectMeta }).GetMetadata()
			ons := md.GetNamespace()
			if ons == "" {
				ons = ns
			}
			targets = append(targets, deleteTarget{k, ons, md.GetName()})
		}
	case len(args) == 0:
		return fmt.Errorf("name what to delete: KIND NAME, KIND/NAME or -f FILE")
	case strings.Contains(args[0], "/"):
		for _, a := range args {
			k, name, err := splitTarget([]string{a})
			if err != nil {
				return err
			}
			targets = append(targets, deleteTarget{k, ns, name})
		}
	default:
		k, err := parseKind(args[0])
		if err != nil {
			return err
		}
		if len(args) < 2 {
			return fmt.Errorf("name the %s to delete", k.plural)
		}
		for _, name := range args[1:] {
			targets = append(targets, deleteTarget{k, ns, name})
		}
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	opts := client.DeleteOptions{PropagationPolicy: policy}
	for _, t := range targets {
		var err error
		switch t.kind {
		case kindJob:
			_, err = c.Jobs(t.namespace).Delete(ctx, t.name, opts)
		case kindPod:
			_, err = c.Pods(t.namespace).Delete(ctx, t.name, opts)
		case kindNode:
			_, err = c.Nodes().Delete(ctx, t.name, opts)
		case kindCronJob:
			_, err = c.CronJobs(t.namespace).Delete(ctx, t.name, opts)
		case kindDaemonSet:
			_, err = c.DaemonSets(t.namespace).Delete(ctx, t.name, opts)
		default:
			err = fmt.Errorf("%s cannot be deleted", t.kind.plural)
		}
		if client.IsNotFound(err) {
			return fmt.Errorf("%s %q not found", t.kind.plural, t.name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(env.out, "%s %q deleted\n", t.kind.qualified, t.name)
	}
	return nil
}
