// Package e2e runs the built drover binary as separate processes (drover dev,
// drover worker) on loopback ports and checks SPEC rules from the outside:
// through the CLI, the API and the store itself.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// droverBin is the binary under test, built once by TestMain.
var droverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drover-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	droverBin = filepath.Join(dir, "drover")
	build := exec.Command("go", "build", "-o", droverBin, "../cmd/drover")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build drover:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a free 127.0.0.1 port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a drover process started by a test; its output goes to a log file
// that is printed if the test fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// stop sends SIGINT and waits (SIGKILL after 10 s).
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.signal(syscall.SIGKILL)
		<-p.done
		t.Errorf("%s did not stop on SIGINT within 10s", p.name)
	}
}

// cluster is `drover dev --workers 0` plus separate `drover worker` processes.
type cluster struct {
	t        *testing.T
	dir      string
	etcdAddr string
	api      string
	etcd     *clientv3.Client

	mu    sync.Mutex
	procs []*proc
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), etcdAddr: freeAddr(t), api: freeAddr(t)}
	t.Cleanup(c.cleanup)
	c.startDev()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + c.etcdAddr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	c.etcd = cli
	return c
}

func (c *cluster) start(name string, args ...string) *proc {
	c.t.Helper()
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(droverBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "DROVER_SERVER="+c.api)
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p
}

// startDev starts (or restarts, on the same data dir) the dev server and
// waits for its API.
func (c *cluster) startDev() *proc {
	c.t.Helper()
	p := c.start("dev", "dev", "--workers", "0", "--data-dir", filepath.Join(c.dir, "dev"),
		"--etcd-listen", c.etcdAddr, "--listen", c.api, "--election-ttl", "3s", "--log-level", "debug")
	c.eventually("the API answers", 60*time.Second, func() error {
		_, err := c.cli("get", "jobs")
		return err
	})
	return p
}

// startWorker starts a separate worker process with short heartbeat timings.
func (c *cluster) startWorker(name string) *proc {
	c.t.Helper()
	return c.start(name, "worker", "--etcd-endpoints", "http://"+c.etcdAddr, "--name", name,
		"--data-dir", filepath.Join(c.dir, name), "--heartbeat-interval", "1s", "--lease-ttl", "4s", "--log-level", "debug")
}

// cli runs a drover client command against the cluster and returns stdout.
func (c *cluster) cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, droverBin, append(args, "--server", c.api)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("drover %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// mustCLI is cli that fails the test on error.
func (c *cluster) mustCLI(args ...string) string {
	c.t.Helper()
	out, err := c.cli(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// eventually polls f until it returns nil.
func (c *cluster) eventually(what string, timeout time.Duration, f func() error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *cluster) cleanup() {
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.done:
		default:
			p.signal(syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.signal(syscall.SIGKILL)
				<-p.done
			}
		}
	}
	// Pods run under shims that outlive their worker (SPEC N3): stop every
	// process left in this test's directory.
	_ = exec.Command("pkill", "-KILL", "-f", c.dir).Run()
	if c.t.Failed() {
		for _, p := range procs {
			b, _ := os.ReadFile(p.log)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			c.t.Logf("---- %s log (tail) ----\n%s", p.name, b)
		}
	}
}
