package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// list reads one page, or every page when opts.Limit is 0, retrying each
// page on Unavailable.
func list[T any](ctx context.Context, c *Client, opts ListOptions, page func(context.Context, *v1.ListOptions) ([]T, *v1.ListMeta, error)) (*List[T], error) {
	po := opts.proto()
	out := &List[T]{}
	for {
		var items []T
		var meta *v1.ListMeta
		err := c.retry(ctx, func(ctx context.Context) (err error) {
			items, meta, err = page(ctx, po)
			return err
		})
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, items...)
		out.ResourceVersion = meta.GetResourceVersion()
		out.Continue = meta.GetContinueToken()
		if opts.Limit > 0 || out.Continue == "" {
			return out, nil
		}
		po.ContinueToken = out.Continue
	}
}

// orDefault is the namespace a single-object call uses.
func orDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// JobClient reads and writes the Jobs of one namespace (all namespaces for
// List and Watch when the namespace is "").
type JobClient struct {
	c  *Client
	ns string
}

// Jobs returns the Job client of namespace ns. "" lists and watches every
// namespace; single-object calls then use "default".
func (c *Client) Jobs(ns string) *JobClient { return &JobClient{c: c, ns: ns} }

// Create validates and stores a new Job and returns it as stored (uid,
// resourceVersion, defaults). A Job without a namespace gets the client's
// (or "default"); one naming another namespace than a non-empty client
// namespace is refused. Not retried: on Unavailable the Job may or may not
// exist. Fails with ErrAlreadyExists or ErrInvalid (see FieldErrors).
func (j *JobClient) Create(ctx context.Context, job *v1.Job, opts ...CreateOption) (*v1.Job, error) {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	job = proto.Clone(job).(*v1.Job)
	if job.Metadata == nil {
		job.Metadata = &v1.ObjectMeta{}
	}
	switch {
	case job.Metadata.Namespace == "":
		job.Metadata.Namespace = orDefault(j.ns)
	case j.ns != "" && job.Metadata.Namespace != j.ns:
		return nil, fmt.Errorf("client: job namespace %q does not match the client's %q", job.Metadata.Namespace, j.ns)
	}
	resp, err := j.c.api.CreateJob(ctx, &v1.CreateJobRequest{Job: job, DryRun: o.dryRun})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetJob(), nil
}

// Get returns one Job, or ErrNotFound.
func (j *JobClient) Get(ctx context.Context, name string) (*v1.Job, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.GetJobResponse
	err := j.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = j.c.api.GetJob(ctx, &v1.GetJobRequest{Namespace: orDefault(j.ns), Name: name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetJob(), nil
}

// List returns the Jobs matching opts (see ListOptions.Limit for paging).
func (j *JobClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Job], error) {
	return list(ctx, j.c, opts, func(ctx context.Context, o *v1.ListOptions) ([]*v1.Job, *v1.ListMeta, error) {
		resp, err := j.c.api.ListJobs(ctx, &v1.ListJobsRequest{Namespace: j.ns, Options: o})
		return resp.GetItems(), resp.GetMetadata(), err
	})
}

// Update replaces the Job's spec and metadata with job's and returns the
// stored Job. With job.metadata.resourceVersion set, the update applies only
// if nobody changed the Job since (else ErrConflict: Get and retry). Not
// retried.
func (j *JobClient) Update(ctx context.Context, job *v1.Job) (*v1.Job, error) {
	job = proto.Clone(job).(*v1.Job)
	if job.Metadata == nil {
		job.Metadata = &v1.ObjectMeta{}
	}
	if job.Metadata.Namespace == "" {
		job.Metadata.Namespace = orDefault(j.ns)
	}
	resp, err := j.c.api.UpdateJob(ctx, &v1.UpdateJobRequest{Job: job})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetJob(), nil
}

// Delete deletes a Job and, by opts.PropagationPolicy, its pods (SPEC J12).
// It returns the Job as it was. Retried on Unavailable, so a delete that
// landed before the connection broke reports ErrNotFound on the retry.
func (j *JobClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.Job, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.DeleteJobResponse
	err := j.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = j.c.api.DeleteJob(ctx, &v1.DeleteJobRequest{Namespace: orDefault(j.ns), Name: name, Options: opts.proto()})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetJob(), nil
}

// Watch streams changes to the Jobs matching opts.LabelSelector, from
// opts.ResourceVersion (exclusive) or from now with the current Jobs first as
// ADDED. It returns once the stream is open; cancelling ctx or calling
// Close ends it.
func (j *JobClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Job], error) {
	return watch(ctx, j.c, opts, j.List, func(ctx context.Context, o *v1.ListOptions) (recvFunc[*v1.Job], error) {
		s, err := j.c.api.WatchJobs(ctx, &v1.WatchJobsRequest{Namespace: j.ns, Options: o})
		if err != nil {
			return nil, err
		}
		return func() (string, *v1.Job, error) {
			m, err := s.Recv()
			return m.GetType(), m.GetObject(), err
		}, nil
	})
}

// PodClient reads and deletes the pods of one namespace ("" for all in
// List and Watch).
type PodClient struct {
	c  *Client
	ns string
}

// Pods returns the pod client of namespace ns.
func (c *Client) Pods(ns string) *PodClient { return &PodClient{c: c, ns: ns} }

// Get returns one pod, or ErrNotFound.
func (p *PodClient) Get(ctx context.Context, name string) (*v1.Pod, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.GetPodResponse
	err := p.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = p.c.api.GetPod(ctx, &v1.GetPodRequest{Namespace: orDefault(p.ns), Name: name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetPod(), nil
}

// List returns the pods matching opts.
func (p *PodClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Pod], error) {
	return list(ctx, p.c, opts, func(ctx context.Context, o *v1.ListOptions) ([]*v1.Pod, *v1.ListMeta, error) {
		resp, err := p.c.api.ListPods(ctx, &v1.ListPodsRequest{Namespace: p.ns, Options: o})
		return resp.GetItems(), resp.GetMetadata(), err
	})
}

// Delete deletes a pod (its worker stops it) and returns it as it was.
// Retried on Unavailable.
func (p *PodClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.Pod, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.DeletePodResponse
	err := p.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = p.c.api.DeletePod(ctx, &v1.DeletePodRequest{Namespace: orDefault(p.ns), Name: name, Options: opts.proto()})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetPod(), nil
}

// Watch streams changes to pods, as JobClient.Watch does for Jobs.
func (p *PodClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Pod], error) {
	return watch(ctx, p.c, opts, p.List, func(ctx context.Context, o *v1.ListOptions) (recvFunc[*v1.Pod], error) {
		s, err := p.c.api.WatchPods(ctx, &v1.WatchPodsRequest{Namespace: p.ns, Options: o})
		if err != nil {
			return nil, err
		}
		return func() (string, *v1.Pod, error) {
			m, err := s.Recv()
			return m.GetType(), m.GetObject(), err
		}, nil
	})
}

// NodeClient reads and writes nodes (cluster-wide objects).
type NodeClient struct{ c *Client }

// Nodes returns the node client.
func (c *Client) Nodes() *NodeClient { return &NodeClient{c: c} }

// Get returns one node, or ErrNotFound.
func (n *NodeClient) Get(ctx context.Context, name string) (*v1.Node, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.GetNodeResponse
	err := n.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = n.c.api.GetNode(ctx, &v1.GetNodeRequest{Name: name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetNode(), nil
}

// List returns the nodes matching opts.
func (n *NodeClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Node], error) {
	return list(ctx, n.c, opts, func(ctx context.Context, o *v1.ListOptions) ([]*v1.Node, *v1.ListMeta, error) {
		resp, err := n.c.api.ListNodes(ctx, &v1.ListNodesRequest{Options: o})
		return resp.GetItems(), resp.GetMetadata(), err
	})
}

// Update replaces a node's spec and metadata (cordon sets
// spec.unschedulable), guarded by metadata.resourceVersion when set. Not
// retried.
func (n *NodeClient) Update(ctx context.Context, node *v1.Node) (*v1.Node, error) {
	resp, err := n.c.api.UpdateNode(ctx, &v1.UpdateNodeRequest{Node: node})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetNode(), nil
}

// Delete deletes a node and returns it as it was. Retried on Unavailable.
func (n *NodeClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.Node, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.DeleteNodeResponse
	err := n.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = n.c.api.DeleteNode(ctx, &v1.DeleteNodeRequest{Name: name, Options: opts.proto()})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetNode(), nil
}

// Watch streams changes to nodes, as JobClient.Watch does for Jobs.
func (n *NodeClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Node], error) {
	return watch(ctx, n.c, opts, n.List, func(ctx context.Context, o *v1.ListOptions) (recvFunc[*v1.Node], error) {
		s, err := n.c.api.WatchNodes(ctx, &v1.WatchNodesRequest{Options: o})
		if err != nil {
			return nil, err
		}
		return func() (string, *v1.Node, error) {
			m, err := s.Recv()
			return m.GetType(), m.GetObject(), err
		}, nil
	})
}

// EventClient reads the events of one namespace ("" for all).
type EventClient struct {
	c  *Client
	ns string
}

// Events returns the event client of namespace ns.
func (c *Client) Events(ns string) *EventClient { return &EventClient{c: c, ns: ns} }

// List returns the events matching opts.
func (e *EventClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Event], error) {
	return list(ctx, e.c, opts, func(ctx context.Context, o *v1.ListOptions) ([]*v1.Event, *v1.ListMeta, error) {
		resp, err := e.c.api.ListEvents(ctx, &v1.ListEventsRequest{Namespace: e.ns, Options: o})
		return resp.GetItems(), resp.GetMetadata(), err
	})
}

// Watch streams new and changed events, as JobClient.Watch does for Jobs.
func (e *EventClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Event], error) {
	return watch(ctx, e.c, opts, e.List, func(ctx context.Context, o *v1.ListOptions) (recvFunc[*v1.Event], error) {
		s, err := e.c.api.WatchEvents(ctx, &v1.WatchEventsRequest{Namespace: e.ns, Options: o})
		if err != nil {
			return nil, err
		}
		return func() (string, *v1.Event, error) {
			m, err := s.Recv()
			return m.GetType(), m.GetObject(), err
		}, nil
	})
}
