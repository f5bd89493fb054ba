// Command drover is Drover's one binary: the cluster processes (dev,
// controller, worker) and the client commands (apply, get, describe, logs,
// delete, wait ...), the way nomad and k3s ship.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// rootCmd is the `drover` command; each cmd_*.go file adds its subcommands
// in an init function.
var rootCmd = &cobra.Command{
	Use:   "drover",
	Short: "Drover runs batch Jobs on a fleet of machines",
	Long: `Drover runs batch Jobs (shaped like Kubernetes' batch/v1 Job) on a fleet of
workers coordinated through etcd.

Start a whole cluster on this machine with 'drover dev', then submit work with
'drover apply -f job.yaml' and follow it with 'drover get jobs', 'drover wait'
and 'drover logs'.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
