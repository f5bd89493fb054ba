package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/worker/runtime/process"
)

// shimCmd is the process runtime's shim (`drover __shim <container dir>`),
// started by the runtime, never by people.
var shimCmd = &cobra.Command{
	Use:                process.ShimArg + " DIR",
	Short:              "Run one container of the process runtime (internal)",
	Hidden:             true,
	Args:               cobra.ExactArgs(1),
	DisableFlagParsing: true,
	Run: func(cmd *cobra.Command, args []string) {
		os.Exit(process.ShimMain(args[0]))
	},
}

func init() { rootCmd.AddCommand(shimCmd) }
