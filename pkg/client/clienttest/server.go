// Package clienttest runs an in-memory fake of the DroverService API over
// real gRPC on 127.0.0.1, for tests of the client SDK and the CLI. It keeps
// Jobs, CronJobs, DaemonSets, pods, nodes, events and pod logs in maps with
// a revision counter, serves lists (label selectors, paging) and watches
// (from a revision or from now), validates created objects with package
// validation, and can be told to fail the next calls of a method or to end
// the open watches (EndWatches). It is not a model of the real server's
// behaviour beyond that.
package clienttest

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/labels"
	"github.com/drover-dev/drover/pkg/validation"
)

type object interface {
	proto.Message
	GetMetadata() *v1.ObjectMeta
}

type kind string

const (
	kindJob   kind = "job"
	kindPod   kind = "pod"
	kindNode  kind = "node"
	kindEvent kind = "event"

	kindCronJob   kind = "cronjob"
	kindDaemonSet kind = "daemonset"
)

type change struct {
	rev  int64
	kind kind
	typ  string
	obj  object
}

// Server is the fake. Its exported methods are safe for concurrent use.
type Server struct {
	v1.UnimplementedDroverServiceServer

	// Addr is the 127.0.0.1 address it listens on.
	Addr string

	mu      sync.Mutex
	rev     int64
	objs    map[kind]map[string]object // key: namespace/name
	history []change
	changed chan struct{}
	logs    map[string][]byte
	logErrs map[string]error
	fail    map[string][]error
	calls   map[string]int
	leader  string
	uid     int
	grpc    *grpc.Server
	done    chan struct{}

	// endGen counts EndWatches calls; endErr is the last one's error.
	endGen int
	endErr error
}

// NewServer starts a fake server and stops it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts a fake server; Stop it when done.
func Start() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:    lis.Addr().String(),
		objs:    map[kind]map[string]object{kindJob: {}, kindPod: {}, kindNode: {}, kindEvent: {}, kindCronJob: {}, kindDaemonSet: {}},
		changed: make(chan struct{}),
		logs:    map[string][]byte{},
		logErrs: map[string]error{},
		fail:    map[string][]error{},
		calls:   map[string]int{},
		leader:  "controller-0",
	}
	s.grpc = grpc.NewServer()
	v1.RegisterDroverServiceServer(s.grpc, s)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.grpc.Serve(lis)
	}()
	return s, nil
}

// Stop closes the listener and every connection, and waits for the server
// goroutine. Calling it again does nothing.
func (s *Server) Stop() {
	s.grpc.Stop()
	<-s.done
}

// FailNext makes the next len(errs) calls of method (such as "GetJob")
// return those errors, in order, before doing anything.
func (s *Server) FailNext(method string, errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = append(s.fail[method], errs...)
}

// Calls returns how many times method was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// enter records a call and returns an injected error, if any. Callers hold no lock.
func (s *Server) enter(method string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	if errs := s.fail[method]; len(errs) > 0 {
		s.fail[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func key(ns, name string) string { return ns + "/" + name }

// defaultNS is the namespace helpers use for "".
func defaultNS(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

func objKey(o object) string { return key(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName()) }

// put stores a copy of o with a new resourceVersion and records the change.
// The caller holds s.mu.
func (s *Server) put(k kind, o object, typ string) object {
	o = proto.Clone(o).(object)
	s.rev++
	md := o.GetMetadata()
	md.ResourceVersion = strconv.FormatInt(s.rev, 10)
	if typ == "DELETED" {
		delete(s.objs[k], objKey(o))
	} else {
		s.objs[k][objKey(o)] = o
	}
	s.history = append(s.history, change{rev: s.rev, kind: k, typ: typ, obj: o})
	close(s.changed)
	s.changed = make(chan struct{})
	return proto.Clone(o).(object)
}

func (s *Server) seed(k kind, o object) {
	o = proto.Clone(o).(object)
	if k != kindNode && o.GetMetadata().GetNamespace() == "" {
		o.GetMetadata().Namespace = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	typ := "ADDED"
	if _, ok := s.objs[k][objKey(o)]; ok {
		typ = "MODIFIED"
	}
	s.put(k, o, typ)
}

// PutJob stores a Job as given (no validation), as ADDED or MODIFIED.
func (s *Server) PutJob(j *v1.Job) { s.seed(kindJob, j) }

// PutPod stores a pod.
func (s *Server) PutPod(p *v1.Pod) { s.seed(kindPod, p) }

// PutNode stores a node.
func (s *Server) PutNode(n *v1.Node) { s.seed(kindNode, n) }

// PutEvent stores an event.
func (s *Server) PutEvent(e *v1.Event) { s.seed(kindEvent, e) }

// SetLogs sets a pod's (container's, when container is not "") output.
func (s *Server) SetLogs(ns, pod, container string, data string) {
	ns = defaultNS(ns)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs[key(ns, pod)+"/"+container] = []byte(data)
}

// SetLogsError makes PodLogs of a pod (any container) fail with err, as
// the real server does when the pod's node or containers are gone.
func (s *Server) SetLogsError(ns, pod string, err error) {
	ns = defaultNS(ns)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logErrs[key(ns, pod)] = err
}

// EndWatches ends every watch stream open now with err, once each has sent
// the changes made before the call, as the real server ends a stream whose
// client fell too far behind (ResourceExhausted, reason
// WATCH_TOO_FAR_BEHIND). Streams opened afterwards are not affected.
func (s *Server) EndWatches(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endGen++
	s.endErr = err
	close(s.changed)
	s.changed = make(chan struct{})
}

// Job returns the stored Job, or nil.
func (s *Server) Job(ns, name string) *v1.Job {
	ns = defaultNS(ns)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.objs[kindJob][key(ns, name)]; ok {
		return proto.Clone(o).(*v1.Job)
	}
	return nil
}

// ModifyJob applies f to a copy of the stored Job and stores it (MODIFIED),
// as a controller writing status would.
func (s *Server) ModifyJob(ns, name string, f func(*v1.Job)) {
	ns = defaultNS(ns)
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[kindJob][key(ns, name)]
	if !ok {
		panic("clienttest: no job " + key(ns, name))
	}
	j := proto.Clone(o).(*v1.Job)
	f(j)
	s.put(kindJob, j, "MODIFIED")
}

// DeleteJobNow removes a Job (DELETED), as a controller would.
func (s *Server) DeleteJobNow(ns, name string) {
	ns = defaultNS(ns)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.objs[kindJob][key(ns, name)]; ok {
		s.put(kindJob, o, "DELETED")
	}
}

func (s *Server) get(k kind, ns, name string) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[k][key(ns, name)]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "%s %q not found", k, name)
	}
	return proto.Clone(o).(object), nil
}

func (s *Server) list(k kind, ns string, opts *v1.ListOptions) ([]object, *v1.ListMeta, error) {
	sel, err := labels.Parse(opts.GetLabelSelector())
	if err != nil {
		return nil, nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.objs[k]))
	for kk, o := range s.objs[k] {
		if (ns == "" || o.GetMetadata().GetNamespace() == ns) && sel.Matches(o.GetMetadata().GetLabels()) {
			keys = append(keys, kk)
		}
	}
	sort.Strings(keys)
	if c := opts.GetContinueToken(); c != "" {
		i := sort.SearchStrings(keys, c)
		for i < len(keys) && keys[i] <= c {
			i++
		}
		keys = keys[i:]
	}
	meta := &v1.ListMeta{ResourceVersion: strconv.FormatInt(s.rev, 10)}
	if l := opts.GetLimit(); l > 0 && int64(len(keys)) > l {
		keys = keys[:l]
		meta.ContinueToken = keys[len(keys)-1]
	}
	out := make([]object, len(keys))
	for i, kk := range keys {
		out[i] = proto.Clone(s.objs[k][kk]).(object)
	}
	return out, meta, nil
}

// watch sends changes of kind k in ns matching the selector until ctx ends.
func (s *Server) watch(ctx context.Context, k kind, ns string, opts *v1.ListOptions, send func(typ string, o object) error) error {
	sel, err := labels.Parse(opts.GetLabelSelector())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	match := func(o object) bool {
		return (ns == "" || o.GetMetadata().GetNamespace() == ns) && sel.Matches(o.GetMetadata().GetLabels())
	}
	s.mu.Lock()
	gen := s.endGen
	s.mu.Unlock()
	var from int64
	if rv := opts.GetResourceVersion(); rv != "" {
		if from, err = strconv.ParseInt(rv, 10, 64); err != nil {
			return status.Errorf(codes.InvalidArgument, "bad resourceVersion %q", rv)
		}
	} else {
		initial, _, err := s.list(k, ns, opts)
		if err != nil {
			return err
		}
		s.mu.Lock()
		from = s.rev
		s.mu.Unlock()
		for _, o := range initial {
			if err := send("ADDED", o); err != nil {
				return err
			}
		}
	}
	for {
		s.mu.Lock()
		var pending []change
		for _, c := range s.history {
			if c.rev > from && c.kind == k && match(c.obj) {
				pending = append(pending, c)
			}
		}
		from = s.rev
		wake := s.changed
		endGen, endErr := s.endGen, s.endErr
		s.mu.Unlock()
		for _, c := range pending {
			if err := send(c.typ, proto.Clone(c.obj).(object)); err != nil {
				return err
			}
		}
		if endGen != gen {
			return endErr
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
	}
}

// CreateJob defaults and validates the Job like the real server, then stores it.
func (s *Server) CreateJob(ctx context.Context, req *v1.CreateJobRequest) (*v1.CreateJobResponse, error) {
	if err := s.enter("CreateJob"); err != nil {
		return nil, err
	}
	j := proto.Clone(req.GetJob()).(*v1.Job)
	validation.DefaultJob(j)
	if err := validation.ValidateJob(j); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[kindJob][objKey(j)]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "job %q already exists", j.GetMetadata().GetName())
	}
	s.uid++
	j.Metadata.Uid = fmt.Sprintf("uid-%d", s.uid)
	if req.GetDryRun() {
		return &v1.CreateJobResponse{Job: j}, nil
	}
	return &v1.CreateJobResponse{Job: s.put(kindJob, j, "ADDED").(*v1.Job)}, nil
}

// GetJob returns a stored Job.
func (s *Server) GetJob(ctx context.Context, req *v1.GetJobRequest) (*v1.GetJobResponse, error) {
	if err := s.enter("GetJob"); err != nil {
		return nil, err
	}
	o, err := s.get(kindJob, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &v1.GetJobResponse{Job: o.(*v1.Job)}, nil
}

// ListJobs lists stored Jobs.
func (s *Server) ListJobs(ctx context.Context, req *v1.ListJobsRequest) (*v1.ListJobsResponse, error) {
	if err := s.enter("ListJobs"); err != nil {
		return nil, err
	}
	objs, meta, err := s.list(kindJob, req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	resp := &v1.ListJobsResponse{Metadata: meta}
	for _, o := range objs {
		resp.Items = append(resp.Items, o.(*v1.Job))
	}
	return resp, nil
}

// UpdateJob replaces a Job's spec and metadata, checking resourceVersion.
func (s *Server) UpdateJob(ctx context.Context, req *v1.UpdateJobRequest) (*v1.UpdateJobResponse, error) {
	if err := s.enter("UpdateJob"); err != nil {
		return nil, err
	}
	j := proto.Clone(req.GetJob()).(*v1.Job)
	validation.DefaultJob(j)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.objs[kindJob][objKey(j)]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "job %q not found", j.GetMetadata().GetName())
	}
	if rv := j.GetMetadata().GetResourceVersion(); rv != "" && rv != old.GetMetadata().GetResourceVersion() {
		return nil, status.Errorf(codes.Aborted, "job %q was changed: resourceVersion %s is not %s", j.GetMetadata().GetName(), rv, old.GetMetadata().GetResourceVersion())
	}
	oldJob := old.(*v1.Job)
	if !proto.Equal(oldJob.GetSpec().GetTemplate(), j.GetSpec().GetTemplate()) {
		return nil, validation.ErrorList{{Field: "spec.template", Detail: "field is immutable"}}
	}
	j.Metadata.Uid = oldJob.GetMetadata().GetUid()
	j.Status = oldJob.GetStatus()
	if err := validation.ValidateJob(j); err != nil {
		return nil, err
	}
	return &v1.UpdateJobResponse{Job: s.put(kindJob, j, "MODIFIED").(*v1.Job)}, nil
}

// DeleteJob deletes a stored Job (and nothing else).
func (s *Server) DeleteJob(ctx context.Context, req *v1.DeleteJobRequest) (*v1.DeleteJobResponse, error) {
	if err := s.enter("DeleteJob"); err != nil {
		return nil, err
	}
	o, err := s.get(kindJob, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &v1.DeleteJobResponse{Job: s.put(kindJob, o, "DELETED").(*v1.Job)}, nil
}

// WatchJobs streams Job changes.
func (s *Server) WatchJobs(req *v1.WatchJobsRequest, stream grpc.ServerStreamingServer[v1.WatchJobsResponse]) error {
	if err := s.enter("WatchJobs"); err != nil {
		return err
	}
	return s.watch(stream.Context(), kindJob, req.GetNamespace(), req.GetOptions(), func(typ string, o object) error {
		return stream.Send(&v1.WatchJobsResponse{Type: typ, Object: o.(*v1.Job)})
	})
}

// GetPod returns a stored pod.
func (s *Server) GetPod(ctx context.Context, req *v1.GetPodRequest) (*v1.GetPodResponse, error) {
	if err := s.enter("GetPod"); err != nil {
		return nil, err
	}
	o, err := s.get(kindPod, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &v1.GetPodResponse{Pod: o.(*v1.Pod)}, nil
}

// ListPods lists stored pods.
func (s *Server) ListPods(ctx context.Context, req *v1.ListPodsRequest) (*v1.ListPodsResponse, error) {
	if err := s.enter("ListPods"); err != nil {
		return nil, err
	}
	objs, meta, err := s.list(kindPod, req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	resp := &v1.ListPodsResponse{Metadata: meta}
	for _, o := range objs {
		resp.Items = append(resp.Items, o.(*v1.Pod))
	}
	return resp, nil
}

// DeletePod deletes a stored pod.
func (s *Server) DeletePod(ctx context.Context, req *v1.DeletePodRequest) (*v1.DeletePodResponse, error) {
	if err := s.enter("DeletePod"); err != nil {
		return nil, err
	}
	o, err := s.get(kindPod, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &v1.DeletePodResponse{Pod: s.put(kindPod, o, "DELETED").(*v1.Pod)}, nil
}

// WatchPods streams pod changes.
func (s *Server) WatchPods(req *v1.WatchPodsRequest, stream grpc.ServerStreamingServer[v1.WatchPodsResponse]) error {
	if err := s.enter("WatchPods"); err != nil {
		return err
	}
	return s.watch(stream.Context(), kindPod, req.GetNamespace(), req.GetOptions(), func(typ string, o object) error {
		return stream.Send(&v1.WatchPodsResponse{Type: typ, Object: o.(*v1.Pod)})
	})
}

// GetNode returns a stored node.
func (s *Server) GetNode(ctx context.Context, req *v1.GetNodeRequest) (*v1.GetNodeResponse, error) {
	if err := s.enter("GetNode"); err != nil {
		return nil, err
	}
	o, err := s.get(kindNode, "", req.GetName())
	if err != nil {
		return nil, err
	}
	return &v1.GetNodeResponse{Node: o.(*v1.Node)}, nil
}

// ListNodes lists stored nodes.
func (s *Server) ListNodes(ctx context.Context, req *v1.ListNodesRequest) (*v1.ListNodesResponse, error) {
	if err := s.enter("ListNodes"); err != nil {
		return nil, err
	}
	objs, meta, err := s.list(kindNode, "", req.GetOptions())
	if err != nil {
		return nil, err
	}
	resp := &v1.ListNodesResponse{Metadata: meta}
	for _, o := range objs {
		resp.Items = append(resp.Items, o.(*v1.Node))
	}
	return resp, nil
}

// UpdateNode replaces a stored node, checking resourceVersion.
func (s *Server) UpdateNode(ctx context.Context, req *v1.UpdateNodeRequest) (*v1.UpdateNodeResponse, error) {
	if err := s.enter("UpdateNode"); err != nil {
		return nil, err
	}
	n := req.GetNode()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.objs[kindNode][objKey(n)]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "node %q not found", n.GetMetadata().GetName())
	}
	if rv := n.GetMetadata().GetResourceVersion(); rv != "" && rv != old.GetMetadata().GetResourceVersion() {
		return nil, status.Errorf(codes.Aborted, "node %q was changed", n.GetMetadata().GetName())
	}
	return &v1.UpdateNodeResponse{Node: s.put(kindNode, n, "MODIFIED").(*v1.Node)}, nil
}

// DeleteNode deletes a stored node.
func (s *Server) DeleteNode(ctx context.Context, req *v1.DeleteNodeRequest) (*v1.DeleteNodeResponse, error) {
	if err := s.enter("DeleteNode"); err != nil {
		return nil, err
	}
	o, err := s.get(kindNode, "", req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &v1.DeleteNodeResponse{Node: s.put(kindNode, o, "DELETED").(*v1.Node)}, nil
}

// WatchNodes streams node changes.
func (s *Server) WatchNodes(req *v1.WatchNodesRequest, stream grpc.ServerStreamingServer[v1.WatchNodesResponse]) error {
	if err := s.enter("WatchNodes"); err != nil {
		return err
	}
	return s.watch(stream.Context(), kindNode, "", req.GetOptions(), func(typ string, o object) error {
		return stream.Send(&v1.WatchNodesResponse{Type: typ, Object: o.(*v1.Node)})
	})
}

// ListEvents lists stored events.
func (s *Server) ListEvents(ctx context.Context, req *v1.ListEventsRequest) (*v1.ListEventsResponse, error) {
	if err := s.enter("ListEvents"); err != nil {
		return nil, err
	}
	objs, meta, err := s.list(kindEvent, req.GetNamespace(), req.GetOptions())
	if err != nil {
		return nil, err
	}
	resp := &v1.ListEventsResponse{Metadata: meta}
	for _, o := range objs {
		resp.Items = append(resp.Items, o.(*v1.Event))
	}
	return resp, nil
}

// WatchEvents streams event changes.
func (s *Server) WatchEvents(req *v1.WatchEventsRequest, stream grpc.ServerStreamingServer[v1.WatchEventsResponse]) error {
	if err := s.enter("WatchEvents"); err != nil {
		return err
	}
	return s.watch(stream.Context(), kindEvent, req.GetNamespace(), req.GetOptions(), func(typ string, o object) error {
		return stream.Send(&v1.WatchEventsResponse{Type: typ, Object: o.(*v1.Event)})
	})
}

// PodLogs sends the output set by SetLogs in chunks of at most 7 bytes (to
// exercise reassembly), honouring TailLines; with Follow it then waits
// until the client goes away.
func (s *Server) PodLogs(req *v1.PodLogsRequest, stream grpc.ServerStreamingServer[v1.PodLogsResponse]) error {
	if err := s.enter("PodLogs"); err != nil {
		return err
	}
	if _, err := s.get(kindPod, req.GetNamespace(), req.GetName()); err != nil {
		return err
	}
	s.mu.Lock()
	data := s.logs[key(req.GetNamespace(), req.GetName())+"/"+req.GetContainer()]
	lerr := s.logErrs[key(req.GetNamespace(), req.GetName())]
	s.mu.Unlock()
	if lerr != nil {
		return lerr
	}
	if n := req.GetTailLines(); n > 0 {
		data = tail(data, int(n))
	}
	for len(data) > 0 {
		n := min(7, len(data))
		if err := stream.Send(&v1.PodLogsResponse{Data: data[:n]}); err != nil {
			return err
		}
		data = data[n:]
	}
	if req.GetFollow() {
		<-stream.Context().Done()
	}
	return nil
}

func tail(data []byte, n int) []byte {
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			n--
			if n == 0 {
				return data[i+1:]
			}
		}
	}
	return data
}

// SetLeader sets the identity GetLeader reports.
func (s *Server) SetLeader(identity string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader = identity
}

// GetLeader reports the leader set by SetLeader ("controller-0" at first).
func (s *Server) GetLeader(ctx context.Context, req *v1.GetLeaderRequest) (*v1.GetLeaderResponse, error) {
	if err := s.enter("GetLeader"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &v1.GetLeaderResponse{Identity: s.leader, Revision: 7, ServingIdentity: "fake"}, nil
}
