package e2e

// Helpers of the fault tests (fault_test.go): a loopback TCP proxy the test
// can cut, controller replicas on an etcd run by the test, pods that record
// their own start, ticks and end in a shared file, and store readers.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/drover-dev/drover/controller/leader"
	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// longTests reports whether DROVER_LONG=1 asks for the long tests.
func longTests() bool { return os.Getenv("DROVER_LONG") == "1" }

// tcpProxy forwards 127.0.0.1 connections to target until cut: cut closes
// every open connection and refuses new ones (accepted and closed at once)
// until restore. It stands for a network partition between a worker and etcd.
type tcpProxy struct {
	lis    net.Listener
	target string

	mu    sync.Mutex
	cutOn bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{lis: lis, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// addr is the proxy's listening address.
func (p *tcpProxy) addr() string { return p.lis.Addr().String() }

func (p *tcpProxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cutOn
		if !cut {
			p.conns[in] = true
		}
		p.mu.Unlock()
		if cut {
			in.Close()
			continue
		}
		p.wg.Add(1)
		go p.pipe(in)
	}
}

func (p *tcpProxy) pipe(in net.Conn) {
	defer p.wg.Done()
	out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		p.drop(in)
		return
	}
	p.mu.Lock()
	if p.cutOn {
		p.mu.Unlock()
		out.Close()
		p.drop(in)
		return
	}
	p.conns[out] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
	p.drop(in)
	p.drop(out)
	<-done
}

func (p *tcpProxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// cut closes every connection and refuses new ones until restore.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutOn = true
	for c := range p.conns {
		c.Close()
	}
}

// restore lets connections through again.
func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.cutOn = false
	p.mu.Unlock()
}

func (p *tcpProxy) close() {
	p.cut()
	p.lis.Close()
	p.wg.Wait()
}

// workerOpts are the flags of a worker started by startWorkerWith.
type workerOpts struct {
	// etcd is the etcd address the worker dials (default the cluster's).
	etcd string
	// heartbeat and ttl default to 1s and 4s.
	heartbeat, ttl string
	// logName names the log file (default the node name): a restarted
	// worker gets its own log.
	logName string
}

// startWorkerWith starts a worker process with the given options.
func (c *cluster) startWorkerWith(name string, o workerOpts) *proc {
	c.t.Helper()
	if o.etcd == "" {
		o.etcd = c.etcdAddr
	}
	if o.heartbeat == "" {
		o.heartbeat, o.ttl = "1s", "4s"
	}
	if o.logName == "" {
		o.logName = name
	}
	return c.start(o.logName, "worker", "--etcd-endpoints", "http://"+o.etcd, "--name", name,
		"--data-dir", filepath.Join(c.dir, name), "--heartbeat-interval", o.heartbeat, "--lease-ttl", o.ttl,
		"--listen", freeAddr(c.t), "--log-level", "debug")
}

// newHACluster runs etcd in the test process (so that every drover process
// can be killed) and n `drover controller` replicas c1..cn with the given
// election TTL. The CLI gets every replica's address and fails over.
func newHACluster(t *testing.T, n int, electionTTL string, extra ...string) (*cluster, []string) {
	t.Helper()
	cli, srv := etcdtest.Start(t)
	c := &cluster{t: t, dir: t.TempDir(), etcdAddr: strings.TrimPrefix(srv.Endpoint(), "http://"), etcd: cli}
	t.Cleanup(c.cleanup)
	var addrs []string
	for i := 1; i <= n; i++ {
		addr := freeAddr(t)
		addrs = append(addrs, addr)
		c.startController(fmt.Sprintf("c%d", i), addr, electionTTL, extra...)
	}
	c.api = strings.Join(addrs, ",")
	c.eventually("a leader", 30*time.Second, func() error {
		if id, _ := c.leader(); id == "" {
			return errors.New("no leader")
		}
		_, err := c.cli("get", "jobs")
		return err
	})
	return c, addrs
}

// startController starts one controller replica named name (its election
// identity and log name; a restart gets a numbered log).
func (c *cluster) startController(name, listen, electionTTL string, extra ...string) *proc {
	c.t.Helper()
	logName := name
	for i := 2; c.proc(logName) != nil; i++ {
		logName = fmt.Sprintf("%s-%d", name, i)
	}
	return c.start(logName, append([]string{"controller", "--etcd-endpoints", "http://" + c.etcdAddr, "--listen", listen,
		"--identity", name, "--election-ttl", electionTTL, "--log-level", "debug"}, extra...)...)
}

// proc returns the process started under log name, or nil.
func (c *cluster) proc(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// leader reads the leader's identity and fencing revision from etcd.
func (c *cluster) leader() (string, int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	id, rev, err := leader.Leader(ctx, c.etcd)
	if err != nil {
		return "", 0
	}
	return id, rev
}

// leaderLeaseLeft is the remaining TTL (whole seconds, as etcd reports it)
// of the leader's session lease.
func (c *cluster) leaderLeaseLeft() time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.etcd.Get(ctx, store.LeaderPrefix, clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		return -1
	}
	ttl, err := c.etcd.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil {
		return -1
	}
	return time.Duration(ttl.TTL) * time.Second
}

// apply writes a manifest to the test dir and applies it.
func (c *cluster) apply(name, manifest string) {
	c.t.Helper()
	path := filepath.Join(c.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.mustCLI("apply", "-f", path)
}

// job reads a Job straight from the store.
func (c *cluster) job(name string) *v1.Job {
	c.t.Helper()
	j, err := store.New(c.etcd).Jobs().Get(context.Background(), "default", name)
	if err != nil {
		c.t.Fatalf("job %s: %v", name, err)
	}
	return j
}

// pods reads the pods of Job job straight from the store.
func (c *cluster) pods(job string) []*v1.Pod {
	c.t.Helper()
	resp, err := c.etcd.Get(context.Background(), "/drover/pods/default/", clientv3.WithPrefix())
	if err != nil {
		c.t.Fatal(err)
	}
	var out []*v1.Pod
	for _, kv := range resp.Kvs {
		p := &v1.Pod{}
		if err := protojson.Unmarshal(kv.Value, p); err != nil {
			c.t.Fatal(err)
		}
		if p.GetMetadata().GetLabels()["job-name"] == job {
			out = append(out, p)
		}
	}
	return out
}

// waitComplete waits for Job name's Complete condition through the CLI.
func (c *cluster) waitComplete(name string, timeout time.Duration) *v1.Job {
	c.t.Helper()
	c.mustCLI("wait", "job/"+name, "--for=condition=Complete", "--timeout", timeout.String())
	return c.job(name)
}

// hasCond reports whether a pod has condition typ=True with reason.
func hasCond(p *v1.Pod, typ, reason string) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ && c.GetStatus() == "True" && c.GetReason() == reason {
			return true
		}
	}
	return false
}

// recordingJob is an Indexed Job whose pods record themselves in file (see
// podRecord): "start", then a "tick" every 50 ms until dir/release exists,
// then "end"; SIGTERM writes "end" and exits 143. extra is added under spec.
func recordingJob(name string, completions, parallelism int, file, release, extra string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %[1]s
spec:
  completions: %[2]d
  parallelism: %[3]d
  completionMode: Indexed
%[6]s  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 5
      containers:
      - name: work
        image: busybox
        env:
        - {name: REC, value: %[4]q}
        - {name: RELEASE, value: %[5]q}
        command:
        - sh
        - -c
        - |
          rec() { echo "$1 $HOSTNAME $DROVER_POD_NAME $DROVER_NODE_NAME $$ $(date +%%s%%N)" >> "$REC"; }
          rec start
          trap 'rec end; exit 143' TERM
          while [ ! -e "$RELEASE" ]; do rec tick; sleep 0.05; done
          rec end
`, name, completions, parallelism, file, release, extra)
}

// podRecord is one line a recording pod wrote.
type podRecord struct {
	what, host, pod, node string
	pid                   int
	at                    time.Time
}

// podLife is what the records say of one pod.
type podLife struct {
	pod, host, node string
	pid             int
	// start is its first record, last its last tick or end.
	start, last time.Time
	ended       bool
}

// readRecords parses a recording file into one podLife per pod.
func readRecords(t *testing.T, file string) map[string]*podLife {
	t.Helper()
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]*podLife{}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]*podLife{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 6 {
			continue // a line cut by a kill
		}
		pid, _ := strconv.Atoi(fs[4])
		ns, err := strconv.ParseInt(fs[5], 10, 64)
		if err != nil {
			continue
		}
		r := podRecord{what: fs[0], host: fs[1], pod: fs[2], node: fs[3], pid: pid, at: time.Unix(0, ns)}
		l := out[r.pod]
		if l == nil {
			l = &podLife{pod: r.pod, host: r.host, node: r.node, pid: r.pid, start: r.at, last: r.at}
			out[r.pod] = l
		}
		if r.at.Before(l.start) {
			l.start = r.at
		}
		if r.at.After(l.last) {
			l.last = r.at
		}
		if r.what == "end" {
			l.ended = true
		}
	}
	return out
}

// byHost groups pod lives by hostname (<job>-<index> for Indexed Jobs), each
// sorted by start.
func byHost(lives map[string]*podLife) map[string][]*podLife {
	out := map[string][]*podLife{}
	for _, l := range lives {
		out[l.host] = append(out[l.host], l)
	}
	for _, ls := range out {
		sort.Slice(ls, func(i, j int) bool { return ls[i].start.Before(ls[j].start) })
	}
	return out
}

// heartbeatGone returns a channel that receives the time the node's liveness
// key is deleted (its lease expired), as this process sees the watch event.
func (c *cluster) heartbeatGone(ctx context.Context, node string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	w := c.etcd.Watch(ctx, store.HeartbeatKey(node))
	go func() {
		for resp := range w {
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					ch <- time.Now()
					return
				}
			}
		}
	}()
	return ch
}

// logContains reports whether a process's log contains s.
func (p *proc) logContains(s string) bool {
	b, _ := os.ReadFile(p.log)
	return strings.Contains(string(b), s)
}
