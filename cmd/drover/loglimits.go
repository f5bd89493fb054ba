package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/quantity"
	"github.com/drover-dev/drover/worker/runtime"
)

// logLimitFlags are the --container-log-max-size and --container-log-max-files
// flags of the commands that run workers (worker, dev), the kubelet's
// (SPEC W3).
type logLimitFlags struct {
	maxSize  string
	maxFiles int
}

func (o *logLimitFlags) register(f *pflag.FlagSet) {
	f.StringVar(&o.maxSize, "container-log-max-size", "10Mi",
		"size at which a container's log file is rotated, a quantity (e.g. 10Mi, 500Ki); at least 16Ki")
	f.IntVar(&o.maxFiles, "container-log-max-files", runtime.DefaultLogMaxFiles,
		"log files kept per container, the current one included: at most max-files x max-size bytes of each container's log are kept on disk")
}

// values checks the flags and returns the bounds in bytes and files.
func (o *logLimitFlags) values() (maxSize int64, maxFiles int, err error) {
	maxSize, err = quantity.Value(o.maxSize)
	if err != nil {
		return 0, 0, fmt.Errorf("--container-log-max-size %q: %w", o.maxSize, err)
	}
	if err := runtime.CheckLogMaxSize(maxSize); err != nil {
		return 0, 0, fmt.Errorf("--container-log-max-size %q: %w", o.maxSize, err)
	}
	if err := runtime.CheckLogMaxFiles(o.maxFiles); err != nil {
		return 0, 0, fmt.Errorf("--container-log-max-files: %w", err)
	}
	return maxSize, o.maxFiles, nil
}
