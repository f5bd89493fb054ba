package main

import (
	"os"
	"runtime"
	"testing"

	"github.com/spf13/pflag"
)

func TestFleetProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	parse := func(args ...string) (*fleetProcs, *pflag.FlagSet) {
		var o fleetProcs
		f := pflag.NewFlagSet("t", pflag.ContinueOnError)
		o.register(f)
		if err := f.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &o, f
	}
	check := func(name string, want int, args ...string) {
		t.Helper()
		o, f := parse(args...)
		got, err := o.apply(f)
		if err != nil || got != want || runtime.GOMAXPROCS(0) != want {
			t.Fatalf("%s: GOMAXPROCS %d (returned %d, %v), want %d", name, runtime.GOMAXPROCS(0), got, err, want)
		}
	}

	if v, ok := os.LookupEnv("GOMAXPROCS"); ok {
		defer os.Setenv("GOMAXPROCS", v)
	}
	os.Unsetenv("GOMAXPROCS")
	runtime.GOMAXPROCS(1)
	check("default", max(8, 4*runtime.NumCPU()))
	check("flag", 3, "--gomaxprocs", "3")
	runtime.GOMAXPROCS(2)
	check("0 keeps the runtime's", 2, "--gomaxprocs", "0")

	t.Setenv("GOMAXPROCS", "5")
	runtime.GOMAXPROCS(5)
	check("the environment wins over the default", 5)
	check("the flag wins over the environment", 6, "--gomaxprocs", "6")

	o, f := parse("--gomaxprocs", "-1")
	if _, err := o.apply(f); err == nil {
		t.Fatal("--gomaxprocs -1 accepted")
	}
}
