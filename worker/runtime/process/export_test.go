package process

import "os"

// CrashEnv names the step of container creation at which a test's
// subprocess, or a shim it starts (the same test binary), kills itself
// (see crashPoint). Only test binaries read it.
const CrashEnv = "DROVER_TEST_CRASH_AT"

func init() { crashAt = os.Getenv(CrashEnv) }

// Steps of container creation that crashPoint knows, in order: those of
// Run, in the process that creates the container, then those of the shim's
// two stages.
var (
	CreatorSteps = []string{"staged", "config", "renamed", "shim-started", "shim-exited"}
	ShimSteps    = []string{"shim1", "shim2-locked", "shim2-started"}
)
