package main

// drover completion bash|zsh|fish, and the completions of kinds and object
// names (read through the SDK) for the client commands.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/client"
)

func init() {
	rootCmd.AddCommand(newCompletionCmd())
	// The client commands register in their own files' init functions,
	// after this one; completions are attached once they all exist.
	cobra.OnInitialize(func() { registerCompletions(rootCmd, stdEnv) })
}

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion (bash|zsh|fish)",
		Short: "Print a shell completion script",
		Long: `Print a script that makes the shell complete drover's commands, flags,
kinds (jobs, pods, nodes ...) and object names (asked from the API).

  bash: source <(drover completion bash)
        (needs the bash-completion package; or write it to
        /etc/bash_completion.d/drover)
  zsh:  drover completion zsh > "${fpath[1]}/_drover"
        (with 'autoload -U compinit; compinit' in ~/.zshrc)
  fish: drover completion fish > ~/.config/fish/completions/drover.fish`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return fmt.Errorf("unsupported shell %q: use bash, zsh or fish", args[0])
		},
	}
}

// completionKinds are offered for a KIND argument (those parseKind knows).
var completionKinds = []string{"jobs", "pods", "nodes", "events", "cronjobs", "daemonsets"}

// registerCompletions attaches kind and name completion to the client
// commands of root that have none.
func registerCompletions(root *cobra.Command, env *cliEnv) {
	for _, cmd := range root.Commands() {
		if cmd.ValidArgsFunction != nil {
			continue
		}
		switch cmd.Name() {
		case "get", "describe", "delete":
			cmd.ValidArgsFunction = env.completeKindAndNames(cmd.Name() != "describe")
		case "wait":
			cmd.ValidArgsFunction = env.completeKindSlashName([]string{"jobs"})
		case "logs":
			cmd.ValidArgsFunction = env.completeKindSlashName([]string{"pods", "jobs"})
		}
	}
}

// kindsFor lists the kinds parseKind accepts, filtered by prefix.
func kindsFor(prefix string) []string {
	var out []string
	for _, k := range completionKinds {
		if _, err := parseKind(k); err == nil && strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// completeKindAndNames completes "KIND NAME..." and "KIND/NAME".
func (e *cliEnv) completeKindAndNames(many bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			if k, prefix, ok := strings.Cut(toComplete, "/"); ok {
				return e.completeNames(cmd, k, k+"/", prefix), cobra.ShellCompDirectiveNoFileComp
			}
			return kindsFor(toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		if strings.Contains(args[0], "/") || (!many && len(args) > 1) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := e.completeNames(cmd, args[0], "", toComplete)
		var out []string
		for _, n := range names {
			if !contains(args[1:], n) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeKindSlashName completes "KIND/NAME" of the given kinds, and bare
// pod names for logs.
func (e *cliEnv) completeKindSlashName(kinds []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if k, prefix, ok := strings.Cut(toComplete, "/"); ok {
			return e.completeNames(cmd, k, k+"/", prefix), cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, k := range kinds {
			if strings.HasPrefix(k+"/", toComplete) {
				out = append(out, k+"/")
			}
		}
		if kinds[0] == "pods" {
			out = append(out, e.completeNames(cmd, "pods", "", toComplete)...)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// completeNames lists the names of kind in the command's namespace that
// start with prefix, each after before. It gives up quietly (no
// completions) when the API does not answer within a second.
func (e *cliEnv) completeNames(cmd *cobra.Command, kindArg, before, prefix string) []string {
	k, err := parseKind(kindArg)
	if err != nil {
		return nil
	}
	if err := e.resolveConfig(cmd); err != nil {
		return nil
	}
	ns := "default"
	if f := cmd.Flags().Lookup("namespace"); f != nil {
		ns = f.Value.String()
	}
	if a, _ := cmd.Flags().GetBool("all-namespaces"); a {
		ns = ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := client.New(ctx, *e.server, append([]client.Option{client.WithRetry(1, 0, 0)}, e.dial...)...)
	if err != nil {
		return nil
	}
	defer c.Close()
	objs, err := fetch(ctx, c, k, ns, nil, "")
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range objs {
		if n := o.GetMetadata().GetName(); strings.HasPrefix(n, prefix) {
			out = append(out, before+n)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
