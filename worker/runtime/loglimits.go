package runtime

import (
	"errors"
	"fmt"
)

// Bounds of a container's log on disk (SPEC W3). A backend keeps at most
// LogMaxFiles files of at most LogMaxSize bytes per container, the newest
// output, and drops the oldest file when the current one is full; the
// defaults are the kubelet's (--container-log-max-size 10Mi,
// --container-log-max-files 5).
const (
	DefaultLogMaxSize  int64 = 10 << 20
	DefaultLogMaxFiles       = 5
	// MinLogMaxSize is the smallest file size accepted: smaller files
	// would rotate on nearly every write.
	MinLogMaxSize int64 = 16 << 10
)

// ErrLogLimit is the error of a log bound out of range.
var ErrLogLimit = errors.New("runtime: log limit out of range")

// CheckLogMaxSize checks a log file size bound; wrap its error with the name
// of the setting at fault.
func CheckLogMaxSize(n int64) error {
	if n < MinLogMaxSize {
		return fmt.Errorf("%d bytes, below the minimum of %d (16Ki): %w", n, MinLogMaxSize, ErrLogLimit)
	}
	return nil
}

// CheckLogMaxFiles checks a bound of the number of log files; wrap its error
// with the name of the setting at fault.
func CheckLogMaxFiles(n int) error {
	if n < 1 {
		return fmt.Errorf("%d, must be at least 1: %w", n, ErrLogLimit)
	}
	return nil
}
