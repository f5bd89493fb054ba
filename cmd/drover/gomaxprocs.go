package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/pflag"
)

// fleetProcs is --gomaxprocs of the commands that host a fleet of hollow
// nodes in one process (drover hollow, drover bench).
//
// Such a process shares the machine's cores with etcd and the controller, so
// the kernel often deschedules its threads; with GOMAXPROCS equal to the
// cores, each descheduled thread holds one of only two Ps, and every
// goroutine queued on it (a lease renewal's answer among them) waits, most of
// all while the garbage collector's mark worker holds the other. More Ps than
// cores let the runnable goroutines of thousands of nodes go on on the
// threads the kernel does run. Measured at the scale preset
// (docs/benchmarks.md): renewal p99 of the fleet 466-657 ms with 2, 169 ms
// with 4, 79 ms with 8, 76 ms with 16.
type fleetProcs struct{ n int }

// defaultFleetProcs is four per core, at least 8.
func defaultFleetProcs() int { return max(8, 4*runtime.NumCPU()) }

func (o *fleetProcs) register(f *pflag.FlagSet) {
	f.IntVar(&o.n, "gomaxprocs", defaultFleetProcs(),
		"GOMAXPROCS of this process, which hosts many nodes: more than the cores, so that a thread the kernel deschedules does not hold up every node's goroutines (an explicit GOMAXPROCS in the environment wins over the default; 0 keeps the Go runtime's)")
}

// apply sets GOMAXPROCS from the flag, unless the environment sets it and
// the flag was not given. It returns the value in effect.
func (o *fleetProcs) apply(f *pflag.FlagSet) (int, error) {
	if o.n < 0 {
		return 0, fmt.Errorf("--gomaxprocs %d: must be 0 or more", o.n)
	}
	if _, env := os.LookupEnv("GOMAXPROCS"); o.n > 0 && (f.Changed("gomaxprocs") || !env) {
		runtime.GOMAXPROCS(o.n)
	}
	return runtime.GOMAXPROCS(0), nil
}
