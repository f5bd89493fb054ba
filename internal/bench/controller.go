package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/controller"
)

// InProcessController runs the controller in this process. Its CPU and
// memory cannot be told apart from the hollow nodes', so its Usage is
// empty (tests use it; drover bench runs a separate process).
func InProcessController(ctx context.Context, endpoints []string) (Controller, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	c, err := controller.New(controller.Config{Etcd: cli, Listen: "127.0.0.1:0", Identity: "bench"})
	if err != nil {
		cli.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return &inProcess{c: c, cli: cli, cancel: cancel, done: done}, nil
}

type inProcess struct {
	c      *controller.Controller
	cli    *clientv3.Client
	cancel context.CancelFunc
	done   chan error
}

func (p *inProcess) Addr() string { return p.c.Addr() }

func (p *inProcess) Stop() (Usage, error) {
	p.cancel()
	err := <-p.done
	p.cli.Close()
	return Usage{How: "in-process: not separable from the bench process"}, err
}

// ProcessController returns a StartController that runs `<binary>
// controller` as a child process on a free loopback port, with args
// appended (e.g. --pprof-listen). Its CPU time and peak RSS come from the
// kernel's rusage of the child once it has exited (wait4).
func ProcessController(binary string, args ...string) func(ctx context.Context, endpoints []string) (Controller, error) {
	return func(ctx context.Context, endpoints []string) (Controller, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		return startProcess(binary, addr, append([]string{"controller",
			"--etcd-endpoints", strings.Join(endpoints, ","), "--listen", addr,
			"--identity", "bench", "--log-level", "warn"}, args...)...)
	}
}

// startProcess runs binary with args as a child process (its output on
// this process's stderr) that serves on addr.
func startProcess(binary, addr string, args ...string) (*process, error) {
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", binary, args[0], err)
	}
	p := &process{cmd: cmd, addr: addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

type process struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

func (p *process) Addr() string { return p.addr }

func (p *process) Stop() (Usage, error) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		err = <-p.done
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return Usage{}, err
	}
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Usage{How: "unavailable"}, nil
	}
	return Usage{
		CPUSeconds:   tv(ru.Utime) + tv(ru.Stime),
		PeakRSSBytes: ru.Maxrss * 1024,
		How:          "separate process; rusage of the exited child (wait4): utime+stime, ru_maxrss",
	}, nil
}

// freeAddr returns a free loopback host:port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
