package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdProcess is an etcd server run as a child process, so that its CPU
// is its own and not the bench's.
type EtcdProcess struct {
	cmd      *exec.Cmd
	endpoint string
	done     chan error
}

// StartEtcd runs binary as a single-member etcd with its data in dir (its
// log in dir.log) on free loopback ports, and waits until it answers. A
// non-zero nice sets its scheduling priority (setpriority(2); below zero
// needs CAP_SYS_NICE): on a machine that also runs the controller and the
// whole fleet, a negative one stands in for the CPU etcd has to itself in
// production.
//
// A procs above zero is its GOMAXPROCS. etcd shares the machine's cores
// with the controller and the fleet here, where in production it has cores
// of its own; with one P per core, a thread of it that the kernel
// deschedules holds up every request queued on its P, a lease renewal
// among them (docs/benchmarks.md, "The tail found").
func StartEtcd(ctx context.Context, binary, dir string, nice, procs int) (*EtcdProcess, error) {
	client, err := freeAddr()
	if err != nil {
		return nil, err
	}
	peer, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cu, pu := "http://"+client, "http://"+peer
	cmd := exec.Command(binary,
		"--name", "bench", "--data-dir", dir,
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "bench="+pu,
		"--quota-backend-bytes", fmt.Sprint(8<<30),
		"--log-level", "error")
	if procs > 0 {
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	}
	// etcd logs errors of its own shutdown; keep them beside its data.
	logf, err := os.Create(dir + ".log")
	if err != nil {
		return nil, fmt.Errorf("bench: etcd log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start etcd: %w", err)
	}
	e := &EtcdProcess{cmd: cmd, endpoint: cu, done: make(chan error, 1)}
	go func() { e.done <- cmd.Wait() }()
	if nice != 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, nice); err != nil {
			_, _ = e.Stop()
			return nil, fmt.Errorf("bench: etcd nice %d: %w (a negative one needs root or CAP_SYS_NICE)", nice, err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{cu}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		_, _ = e.Stop()
		return nil, err
	}
	defer cli.Close()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(wctx, time.Second)
		_, err := cli.Get(cctx, "health")
		ccancel()
		if err == nil {
			return e, nil
		}
		select {
		case err := <-e.done:
			return nil, fmt.Errorf("bench: etcd exited: %v", err)
		case <-wctx.Done():
			_, _ = e.Stop()
			return nil, fmt.Errorf("bench: etcd not ready: %w", wctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Endpoint is the client URL.
func (e *EtcdProcess) Endpoint() string { return e.endpoint }

// Stop stops etcd and returns what it used.
func (e *EtcdProcess) Stop() (Usage, error) {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-e.done:
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		err = <-e.done
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return Usage{}, err
	}
	ru, ok := e.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Usage{How: "unavailable"}, nil
	}
	return Usage{CPUSeconds: tv(ru.Utime) + tv(ru.Stime), PeakRSSBytes: ru.Maxrss * 1024,
		How: "separate process; rusage of the exited child (wait4)"}, nil
}
