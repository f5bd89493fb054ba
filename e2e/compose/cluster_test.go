// Package compose brings up deploy/docker-compose.yml (3 etcd members, 2
// controllers, 3 docker-runtime workers) with shortened timings and applies
// faults to it: a killed worker, a partitioned worker, a killed leader, a
// paused etcd member. It needs a Docker engine and the images of `make
// images`; `make compose-test` runs it (DROVER_COMPOSE_TEST=1).
package compose

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/client"
)

// Shortened timings of the test cluster (the demo keeps 40 s / 10 s / 10 s).
const (
	leaseTTL    = 8 * time.Second
	heartbeat   = 2 * time.Second
	electionTTL = 3 * time.Second
)

var images = []string{"drover/drover:latest", "drover/etcd:latest", "drover/busybox:latest"}

// cluster is a compose project brought up by a test.
type cluster struct {
	t       *testing.T
	name    string   // CLUSTER: prefix of containers, nodes and the network
	compose []string // the compose command and its project arguments
	env     []string
	servers string // the two API replicas, comma-separated
	cli     *client.Client
	etcdIn  string // the etcd member etcdctl runs in
}

// up starts the compose cluster, or skips the test when there is no engine.
func up(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("DROVER_COMPOSE_TEST") != "1" {
		t.Skip("compose test: runs under `make compose-test` (DROVER_COMPOSE_TEST=1); it takes minutes")
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no docker engine: %v: %s", err, bytes.TrimSpace(out))
	}
	var compose []string
	if exec.Command("docker", "compose", "version").Run() == nil {
		compose = []string{"docker", "compose"}
	} else if p, err := exec.LookPath("docker-compose"); err == nil {
		compose = []string{p}
	} else {
		t.Skip("no docker compose: neither `docker compose` nor `docker-compose` is installed")
	}
	for _, img := range images {
		if out, err := exec.Command("docker", "image", "inspect", img).CombinedOutput(); err != nil {
			t.Fatalf("image %s missing (run `make images`): %s", img, bytes.TrimSpace(out))
		}
	}
	b := make([]byte, 3)
	rand.Read(b)
	c := &cluster{t: t, name: "drovertest" + hex.EncodeToString(b), etcdIn: "etcd-1"}
	api1, api2 := freePort(t), freePort(t)
	c.servers = "127.0.0.1:" + api1 + ",127.0.0.1:" + api2
	c.env = append(os.Environ(), "CLUSTER="+c.name, "API_PORT="+api1, "API_PORT_2="+api2,
		"LEASE_TTL="+leaseTTL.String(), "HEARTBEAT="+heartbeat.String(), "ELECTION_TTL="+electionTTL.String())
	file, err := filepath.Abs("../../deploy/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	c.compose = append(compose, "-p", c.name, "-f", file)
	t.Cleanup(c.down)
	start := time.Now()
	c.composeRun("up", "-d")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := client.New(ctx, c.servers)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	c.cli = cli
	c.eventually("3 Ready nodes", 90*time.Second, func() bool { return c.readyNodes() == 3 })
	t.Logf("cluster %s up in %v (compose %s; lease TTL %v, heartbeat %v, election TTL %v)",
		c.name, time.Since(start).Round(time.Millisecond), strings.Join(compose, " "), leaseTTL, heartbeat, electionTTL)
	return c
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// down prints the logs of a failed test and removes everything the test
// created: the project's containers, network and volumes, and the pods'
// containers.
func (c *cluster) down() {
	if c.t.Failed() {
		for _, s := range []string{"controller-1", "controller-2", "worker-1", "worker-2", "worker-3"} {
			out, _ := exec.Command("docker", "logs", "--tail", "40", c.name+"-"+s).CombinedOutput()
			c.t.Logf("--- %s (last 40 lines)\n%s", s, out)
		}
	}
	if c.cli != nil {
		c.cli.Close()
	}
	for _, m := range []string{"etcd-1", "etcd-2", "etcd-3"} {
		exec.Command("docker", "unpause", c.name+"-"+m).Run()
	}
	cmd := exec.Command(c.compose[0], append(c.compose[1:], "down", "-v", "--remove-orphans", "-t", "2")...)
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Logf("compose down: %v\n%s", err, out)
	}
	for i := 1; i <= 3; i++ {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=drover.runtime-scope="+c.node(i)).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
	}
}

func (c *cluster) composeRun(args ...string) {
	c.t.Helper()
	cmd := exec.Command(c.compose[0], append(c.compose[1:], args...)...)
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s", strings.Join(c.compose, " "), strings.Join(args, " "), err, out)
	}
}

// docker runs the docker CLI and returns its trimmed output.
func (c *cluster) docker(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// etcdctl runs etcdctl inside an etcd member, on the cluster's network.
func (c *cluster) etcdctl(args ...string) string {
	c.t.Helper()
	return c.docker(append([]string{"exec", c.name + "-" + c.etcdIn, "etcdctl",
		"--endpoints=http://etcd-1:2379,http://etcd-2:2379,http://etcd-3:2379"}, args...)...)
}

func (c *cluster) node(i int) string { return fmt.Sprintf("%s-worker-%d", c.name, i) }

// nodeIndex is i of node name <cluster>-worker-i.
func (c *cluster) nodeIndex(node string) int {
	i, _ := strconv.Atoi(strings.TrimPrefix(node, c.name+"-worker-"))
	return i
}

func (c *cluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	c.t.Cleanup(cancel)
	return ctx
}

func (c *cluster) readyNodes() int {
	l, err := c.cli.Nodes().List(c.ctx(), client.ListOptions{})
	if err != nil {
		return -1
	}
	n := 0
	for _, node := range l.Items {
		for _, cond := range node.GetStatus().GetConditions() {
			if cond.GetType() == "Ready" && cond.GetStatus() == "True" && !node.GetSpec().GetUnschedulable() {
				n++
			}
		}
	}
	return n
}

// eventually polls cond every 100 ms until it holds; it fails the test
// after limit.
func (c *cluster) eventually(what string, limit time.Duration, cond func() bool) time.Duration {
	c.t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			c.t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// endpointStatus is an element of `etcdctl endpoint status -w json`.
type endpointStatus struct {
	Endpoint string `json:"Endpoint"`
	Status   struct {
		Header struct {
			MemberID uint64 `json:"member_id"`
		} `json:"header"`
		Leader uint64 `json:"leader"`
	} `json:"Status"`
}

// etcdLeader returns the etcd member (etcd-N) that leads the raft group.
func (c *cluster) etcdLeader() string {
	c.t.Helper()
	var st []endpointStatus
	if err := json.Unmarshal([]byte(c.etcdctl("endpoint", "status", "-w", "json")), &st); err != nil {
		c.t.Fatalf("endpoint status: %v", err)
	}
	for _, s := range st {
		if s.Status.Header.MemberID == s.Status.Leader {
			u := strings.TrimPrefix(s.Endpoint, "http://")
			return strings.TrimSuffix(u, ":2379")
		}
	}
	c.t.Fatal("no etcd leader")
	return ""
}
