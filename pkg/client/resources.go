package client

import (
	"context"

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
type JobClient struct{ r resource[*v1.Job] }

// Jobs returns the Job client of namespace ns. "" lists and watches every
// namespace; single-object calls then use "default".
func (c *Client) Jobs(ns string) *JobClient {
	api := c.api
	return &JobClient{resource[*v1.Job]{c: c, ns: ns, rpc: rpcs[*v1.Job]{
		name: "job", namespaced: true,
		create: func(ctx context.Context, o *v1.Job, dry bool) (*v1.Job, error) {
			r, err := api.CreateJob(ctx, &v1.CreateJobRequest{Job: o, DryRun: dry})
			return r.GetJob(), err
		},
		get: func(ctx context.Context, ns, name string) (*v1.Job, error) {
			r, err := api.GetJob(ctx, &v1.GetJobRequest{Namespace: ns, Name: name})
			return r.GetJob(), err
		},
		list: func(ctx context.Context, ns string, o *v1.ListOptions) ([]*v1.Job, *v1.ListMeta, error) {
			r, err := api.ListJobs(ctx, &v1.ListJobsRequest{Namespace: ns, Options: o})
			return r.GetItems(), r.GetMetadata(), err
		},
		update: func(ctx context.Context, o *v1.Job) (*v1.Job, error) {
			r, err := api.UpdateJob(ctx, &v1.UpdateJobRequest{Job: o})
			return r.GetJob(), err
		},
		delete: func(ctx context.Context, ns, name string, o *v1.DeleteOptions) (*v1.Job, error) {
			r, err := api.DeleteJob(ctx, &v1.DeleteJobRequest{Namespace: ns, Name: name, Options: o})
			return r.GetJob(), err
		},
		watch: func(ctx context.Context, ns string, o *v1.ListOptions) (recvFunc[*v1.Job], error) {
			return recvOf[*v1.Job, *v1.WatchJobsResponse](api.WatchJobs(ctx, &v1.WatchJobsRequest{Namespace: ns, Options: o}))
		},
	}}}
}

// Create validates and stores a new Job and returns it as stored (uid,
// resourceVersion, defaults). A Job without a namespace gets the client's
// (or "default"); one naming another namespace than a non-empty client
// namespace is refused. Not retried: on Unavailable the Job may or may not
// exist. Fails with ErrAlreadyExists or ErrInvalid (see FieldErrors).
func (j *JobClient) Create(ctx context.Context, job *v1.Job, opts ...CreateOption) (*v1.Job, error) {
	return j.r.create(ctx, job, opts)
}

// Get returns one Job, or ErrNotFound. Retried on Unavailable.
func (j *JobClient) Get(ctx context.Context, name string) (*v1.Job, error) {
	return j.r.get(ctx, name)
}

// List returns the Jobs matching opts (see ListOptions.Limit for paging).
// Retried on Unavailable.
func (j *JobClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Job], error) {
	return j.r.list(ctx, opts)
}

// Update replaces the Job's spec and metadata with job's and returns the
// stored Job. With job.metadata.resourceVersion set, the update applies only
// if nobody changed the Job since (else ErrConflict: Get and retry). Not
// retried.
func (j *JobClient) Update(ctx context.Context, job *v1.Job) (*v1.Job, error) {
	return j.r.update(ctx, job)
}

// Delete deletes a Job and, by opts.PropagationPolicy, its pods (SPEC J12).
// It returns the Job as it was. Retried on Unavailable, so a delete that
// landed before the connection broke reports ErrNotFound on the retry.
func (j *JobClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.Job, error) {
	return j.r.delete(ctx, name, opts)
}

// Watch streams changes to the Jobs matching opts.LabelSelector, from
// opts.ResourceVersion (exclusive) or from now with the current Jobs first as
// ADDED. It returns once the stream is open; cancelling ctx or calling
// Close ends it. The Watcher resumes by itself after a disconnect.
func (j *JobClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Job], error) {
	return j.r.watch(ctx, opts)
}

// PodClient reads and deletes the pods of one namespace ("" for all in
// List and Watch).
type PodClient struct{ r resource[*v1.Pod] }

// Pods returns the pod client of namespace ns.
func (c *Client) Pods(ns string) *PodClient {
	api := c.api
	return &PodClient{resource[*v1.Pod]{c: c, ns: ns, rpc: rpcs[*v1.Pod]{
		name: "pod", namespaced: true,
		get: func(ctx context.Context, ns, name string) (*v1.Pod, error) {
			r, err := api.GetPod(ctx, &v1.GetPodRequest{Namespace: ns, Name: name})
			return r.GetPod(), err
		},
		list: func(ctx context.Context, ns string, o *v1.ListOptions) ([]*v1.Pod, *v1.ListMeta, error) {
			r, err := api.ListPods(ctx, &v1.ListPodsRequest{Namespace: ns, Options: o})
			return r.GetItems(), r.GetMetadata(), err
		},
		delete: func(ctx context.Context, ns, name string, o *v1.DeleteOptions) (*v1.Pod, error) {
			r, err := api.DeletePod(ctx, &v1.DeletePodRequest{Namespace: ns, Name: name, Options: o})
			return r.GetPod(), err
		},
		watch: func(ctx context.Context, ns string, o *v1.ListOptions) (recvFunc[*v1.Pod], error) {
			return recvOf[*v1.Pod, *v1.WatchPodsResponse](api.WatchPods(ctx, &v1.WatchPodsRequest{Namespace: ns, Options: o}))
		},
	}}}
}

// Get returns one pod, or ErrNotFound. Retried on Unavailable.
func (p *PodClient) Get(ctx context.Context, name string) (*v1.Pod, error) {
	return p.r.get(ctx, name)
}

// List returns the pods matching opts. Retried on Unavailable.
func (p *PodClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Pod], error) {
	return p.r.list(ctx, opts)
}

// Delete deletes a pod (its worker stops it) and returns it as it was.
// Retried on Unavailable.
func (p *PodClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.Pod, error) {
	return p.r.delete(ctx, name, opts)
}

// Watch streams changes to pods, as JobClient.Watch does for Jobs.
func (p *PodClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Pod], error) {
	return p.r.watch(ctx, opts)
}

// NodeClient reads and writes nodes (cluster-wide objects).
type NodeClient struct{ r resource[*v1.Node] }

// Nodes returns the node client.
func (c *Client) Nodes() *NodeClient {
	api := c.api
	return &NodeClient{resource[*v1.Node]{c: c, rpc: rpcs[*v1.Node]{
		name: "node",
		get: func(ctx context.Context, _, name string) (*v1.Node, error) {
			r, err := api.GetNode(ctx, &v1.GetNodeRequest{Name: name})
			return r.GetNode(), err
		},
		list: func(ctx context.Context, _ string, o *v1.ListOptions) ([]*v1.Node, *v1.ListMeta, error) {
			r, err := api.ListNodes(ctx, &v1.ListNodesRequest{Options: o})
			return r.GetItems(), r.GetMetadata(), err
		},
		update: func(ctx context.Context, o *v1.Node) (*v1.Node, error) {
			r, err := api.UpdateNode(ctx, &v1.UpdateNodeRequest{Node: o})
			return r.GetNode(), err
		},
		delete: func(ctx context.Context, _, name string, o *v1.DeleteOptions) (*v1.Node, error) {
			r, err := api.DeleteNode(ctx, &v1.DeleteNodeRequest{Name: name, Options: o})
			return r.GetNode(), err
		},
		watch: func(ctx context.Context, _ string, o *v1.ListOptions) (recvFunc[*v1.Node], error) {
			return recvOf[*v1.Node, *v1.WatchNodesResponse](api.WatchNodes(ctx, &v1.WatchNodesRequest{Options: o}))
		},
	}}}
}

// Get returns one node, or ErrNotFound. Retried on Unavailable.
func (n *NodeClient) Get(ctx context.Context, name string) (*v1.Node, error) {
	return n.r.get(ctx, name)
}

// List returns the nodes matching opts. Retried on Unavailable.
func (n *NodeClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Node], error) {
	return n.r.list(ctx, opts)
}

// Update replaces a node's spec and metadata (cordon sets
// spec.unschedulable), guarded by metadata.resourceVersion when set. Not
// retried.
func (n *NodeClient) Update(ctx context.Context, node *v1.Node) (*v1.Node, error) {
	return n.r.update(ctx, node)
}

// Delete deletes a node and returns it as it was. Retried on Unavailable.
func (n *NodeClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.Node, error) {
	return n.r.delete(ctx, name, opts)
}

// Watch streams changes to nodes, as JobClient.Watch does for Jobs.
func (n *NodeClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Node], error) {
	return n.r.watch(ctx, opts)
}

// EventClient reads the events of one namespace ("" for all).
type EventClient struct{ r resource[*v1.Event] }

// Events returns the event client of namespace ns.
func (c *Client) Events(ns string) *EventClient {
	api := c.api
	return &EventClient{resource[*v1.Event]{c: c, ns: ns, rpc: rpcs[*v1.Event]{
		name: "event", namespaced: true,
		list: func(ctx context.Context, ns string, o *v1.ListOptions) ([]*v1.Event, *v1.ListMeta, error) {
			r, err := api.ListEvents(ctx, &v1.ListEventsRequest{Namespace: ns, Options: o})
			return r.GetItems(), r.GetMetadata(), err
		},
		watch: func(ctx context.Context, ns string, o *v1.ListOptions) (recvFunc[*v1.Event], error) {
			return recvOf[*v1.Event, *v1.WatchEventsResponse](api.WatchEvents(ctx, &v1.WatchEventsRequest{Namespace: ns, Options: o}))
		},
	}}}
}

// List returns the events matching opts. Retried on Unavailable.
func (e *EventClient) List(ctx context.Context, opts ListOptions) (*List[*v1.Event], error) {
	return e.r.list(ctx, opts)
}

// Watch streams new and changed events, as JobClient.Watch does for Jobs.
func (e *EventClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.Event], error) {
	return e.r.watch(ctx, opts)
}
