package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// CronJobClient reads and writes the CronJobs of one namespace (all namespaces for
// List and Watch when the namespace is "").
type CronJobClient struct {
	c  *Client
	ns string
}

// CronJobs returns the CronJob client of namespace ns. "" lists and watches every
// namespace; single-object calls then use "default".
func (c *Client) CronJobs(ns string) *CronJobClient { return &CronJobClient{c: c, ns: ns} }

// Create validates and stores a new CronJob and returns it as stored. A
// CronJob without a namespace gets the client's (or "default"). Not retried.
// Fails with ErrAlreadyExists or ErrInvalid (see FieldErrors).
func (x *CronJobClient) Create(ctx context.Context, obj *v1.CronJob, opts ...CreateOption) (*v1.CronJob, error) {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	obj = proto.Clone(obj).(*v1.CronJob)
	if obj.Metadata == nil {
		obj.Metadata = &v1.ObjectMeta{}
	}
	switch {
	case obj.Metadata.Namespace == "":
		obj.Metadata.Namespace = orDefault(x.ns)
	case x.ns != "" && obj.Metadata.Namespace != x.ns:
		return nil, fmt.Errorf("client: cronjob namespace %q does not match the client's %q", obj.Metadata.Namespace, x.ns)
	}
	resp, err := x.c.api.CreateCronJob(ctx, &v1.CreateCronJobRequest{CronJob: obj, DryRun: o.dryRun})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetCronJob(), nil
}

// Get returns one CronJob, or ErrNotFound. Retried on Unavailable.
func (x *CronJobClient) Get(ctx context.Context, name string) (*v1.CronJob, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.GetCronJobResponse
	err := x.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = x.c.api.GetCronJob(ctx, &v1.GetCronJobRequest{Namespace: orDefault(x.ns), Name: name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetCronJob(), nil
}

// List returns the CronJobs matching opts (see ListOptions.Limit for paging).
func (x *CronJobClient) List(ctx context.Context, opts ListOptions) (*List[*v1.CronJob], error) {
	return list(ctx, x.c, opts, func(ctx context.Context, o *v1.ListOptions) ([]*v1.CronJob, *v1.ListMeta, error) {
		resp, err := x.c.api.ListCronJobs(ctx, &v1.ListCronJobsRequest{Namespace: x.ns, Options: o})
		return resp.GetItems(), resp.GetMetadata(), err
	})
}

// Update replaces the CronJob's spec and metadata with obj's and returns the
// stored CronJob. With metadata.resourceVersion set, the update applies only
// if nobody changed it since (else ErrConflict). Not retried.
func (x *CronJobClient) Update(ctx context.Context, obj *v1.CronJob) (*v1.CronJob, error) {
	obj = proto.Clone(obj).(*v1.CronJob)
	if obj.Metadata == nil {
		obj.Metadata = &v1.ObjectMeta{}
	}
	if obj.Metadata.Namespace == "" {
		obj.Metadata.Namespace = orDefault(x.ns)
	}
	resp, err := x.c.api.UpdateCronJob(ctx, &v1.UpdateCronJobRequest{CronJob: obj})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetCronJob(), nil
}

// Delete deletes a CronJob and, by opts.PropagationPolicy, what it owns. It
// returns the CronJob as it was. Retried on Unavailable.
func (x *CronJobClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.CronJob, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.DeleteCronJobResponse
	err := x.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = x.c.api.DeleteCronJob(ctx, &v1.DeleteCronJobRequest{Namespace: orDefault(x.ns), Name: name, Options: opts.proto()})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetCronJob(), nil
}

// Watch streams changes to the CronJobs matching opts.LabelSelector, from
// opts.ResourceVersion (exclusive) or from now with the current ones first
// as ADDED. It returns once the stream is open; cancelling ctx or calling
// Close ends it.
func (x *CronJobClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.CronJob], error) {
	return watch(ctx, x.c, opts, x.List, func(ctx context.Context, o *v1.ListOptions) (recvFunc[*v1.CronJob], error) {
		s, err := x.c.api.WatchCronJobs(ctx, &v1.WatchCronJobsRequest{Namespace: x.ns, Options: o})
		if err != nil {
			return nil, err
		}
		return func() (string, *v1.CronJob, error) {
			m, err := s.Recv()
			return m.GetType(), m.GetObject(), err
		}, nil
	})
}

// DaemonSetClient reads and writes the DaemonSets of one namespace (all namespaces for
// List and Watch when the namespace is "").
type DaemonSetClient struct {
	c  *Client
	ns string
}

// DaemonSets returns the DaemonSet client of namespace ns. "" lists and watches every
// namespace; single-object calls then use "default".
func (c *Client) DaemonSets(ns string) *DaemonSetClient { return &DaemonSetClient{c: c, ns: ns} }

// Create validates and stores a new DaemonSet and returns it as stored. A
// DaemonSet without a namespace gets the client's (or "default"). Not retried.
// Fails with ErrAlreadyExists or ErrInvalid (see FieldErrors).
func (x *DaemonSetClient) Create(ctx context.Context, obj *v1.DaemonSet, opts ...CreateOption) (*v1.DaemonSet, error) {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	obj = proto.Clone(obj).(*v1.DaemonSet)
	if obj.Metadata == nil {
		obj.Metadata = &v1.ObjectMeta{}
	}
	switch {
	case obj.Metadata.Namespace == "":
		obj.Metadata.Namespace = orDefault(x.ns)
	case x.ns != "" && obj.Metadata.Namespace != x.ns:
		return nil, fmt.Errorf("client: daemonset namespace %q does not match the client's %q", obj.Metadata.Namespace, x.ns)
	}
	resp, err := x.c.api.CreateDaemonSet(ctx, &v1.CreateDaemonSetRequest{DaemonSet: obj, DryRun: o.dryRun})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetDaemonSet(), nil
}

// Get returns one DaemonSet, or ErrNotFound. Retried on Unavailable.
func (x *DaemonSetClient) Get(ctx context.Context, name string) (*v1.DaemonSet, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.GetDaemonSetResponse
	err := x.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = x.c.api.GetDaemonSet(ctx, &v1.GetDaemonSetRequest{Namespace: orDefault(x.ns), Name: name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetDaemonSet(), nil
}

// List returns the DaemonSets matching opts (see ListOptions.Limit for paging).
func (x *DaemonSetClient) List(ctx context.Context, opts ListOptions) (*List[*v1.DaemonSet], error) {
	return list(ctx, x.c, opts, func(ctx context.Context, o *v1.ListOptions) ([]*v1.DaemonSet, *v1.ListMeta, error) {
		resp, err := x.c.api.ListDaemonSets(ctx, &v1.ListDaemonSetsRequest{Namespace: x.ns, Options: o})
		return resp.GetItems(), resp.GetMetadata(), err
	})
}

// Update replaces the DaemonSet's spec and metadata with obj's and returns the
// stored DaemonSet. With metadata.resourceVersion set, the update applies only
// if nobody changed it since (else ErrConflict). Not retried.
func (x *DaemonSetClient) Update(ctx context.Context, obj *v1.DaemonSet) (*v1.DaemonSet, error) {
	obj = proto.Clone(obj).(*v1.DaemonSet)
	if obj.Metadata == nil {
		obj.Metadata = &v1.ObjectMeta{}
	}
	if obj.Metadata.Namespace == "" {
		obj.Metadata.Namespace = orDefault(x.ns)
	}
	resp, err := x.c.api.UpdateDaemonSet(ctx, &v1.UpdateDaemonSetRequest{DaemonSet: obj})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetDaemonSet(), nil
}

// Delete deletes a DaemonSet and, by opts.PropagationPolicy, what it owns. It
// returns the DaemonSet as it was. Retried on Unavailable.
func (x *DaemonSetClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.DaemonSet, error) {
	if name == "" {
		return nil, errNoName
	}
	var resp *v1.DeleteDaemonSetResponse
	err := x.c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = x.c.api.DeleteDaemonSet(ctx, &v1.DeleteDaemonSetRequest{Namespace: orDefault(x.ns), Name: name, Options: opts.proto()})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetDaemonSet(), nil
}

// Watch streams changes to the DaemonSets matching opts.LabelSelector, from
// opts.ResourceVersion (exclusive) or from now with the current ones first
// as ADDED. It returns once the stream is open; cancelling ctx or calling
// Close ends it.
func (x *DaemonSetClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.DaemonSet], error) {
	return watch(ctx, x.c, opts, x.List, func(ctx context.Context, o *v1.ListOptions) (recvFunc[*v1.DaemonSet], error) {
		s, err := x.c.api.WatchDaemonSets(ctx, &v1.WatchDaemonSetsRequest{Namespace: x.ns, Options: o})
		if err != nil {
			return nil, err
		}
		return func() (string, *v1.DaemonSet, error) {
			m, err := s.Recv()
			return m.GetType(), m.GetObject(), err
		}, nil
	})
}
