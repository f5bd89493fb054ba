package client

import (
	"context"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// CronJobClient reads and writes the CronJobs of one namespace (all namespaces
// for List and Watch when the namespace is "").
type CronJobClient struct{ r resource[*v1.CronJob] }

// CronJobs returns the CronJob client of namespace ns. "" lists and watches
// every namespace; single-object calls then use "default".
func (c *Client) CronJobs(ns string) *CronJobClient {
	api := c.api
	return &CronJobClient{resource[*v1.CronJob]{c: c, ns: ns, rpc: rpcs[*v1.CronJob]{
		name: "cronjob", namespaced: true,
		create: func(ctx context.Context, o *v1.CronJob, dry bool) (*v1.CronJob, error) {
			r, err := api.CreateCronJob(ctx, &v1.CreateCronJobRequest{CronJob: o, DryRun: dry})
			return r.GetCronJob(), err
		},
		get: func(ctx context.Context, ns, name string) (*v1.CronJob, error) {
			r, err := api.GetCronJob(ctx, &v1.GetCronJobRequest{Namespace: ns, Name: name})
			return r.GetCronJob(), err
		},
		list: func(ctx context.Context, ns string, o *v1.ListOptions) ([]*v1.CronJob, *v1.ListMeta, error) {
			r, err := api.ListCronJobs(ctx, &v1.ListCronJobsRequest{Namespace: ns, Options: o})
			return r.GetItems(), r.GetMetadata(), err
		},
		update: func(ctx context.Context, o *v1.CronJob) (*v1.CronJob, error) {
			r, err := api.UpdateCronJob(ctx, &v1.UpdateCronJobRequest{CronJob: o})
			return r.GetCronJob(), err
		},
		delete: func(ctx context.Context, ns, name string, o *v1.DeleteOptions) (*v1.CronJob, error) {
			r, err := api.DeleteCronJob(ctx, &v1.DeleteCronJobRequest{Namespace: ns, Name: name, Options: o})
			return r.GetCronJob(), err
		},
		watch: func(ctx context.Context, ns string, o *v1.ListOptions) (recvFunc[*v1.CronJob], error) {
			return recvOf[*v1.CronJob, *v1.WatchCronJobsResponse](api.WatchCronJobs(ctx, &v1.WatchCronJobsRequest{Namespace: ns, Options: o}))
		},
	}}}
}

// Create validates and stores a new CronJob and returns it as stored. A
// CronJob without a namespace gets the client's (or "default"). Not retried.
// Fails with ErrAlreadyExists or ErrInvalid (see FieldErrors).
func (x *CronJobClient) Create(ctx context.Context, obj *v1.CronJob, opts ...CreateOption) (*v1.CronJob, error) {
	return x.r.create(ctx, obj, opts)
}

// Get returns one CronJob, or ErrNotFound. Retried on Unavailable.
func (x *CronJobClient) Get(ctx context.Context, name string) (*v1.CronJob, error) {
	return x.r.get(ctx, name)
}

// List returns the CronJobs matching opts (see ListOptions.Limit for
// paging). Retried on Unavailable.
func (x *CronJobClient) List(ctx context.Context, opts ListOptions) (*List[*v1.CronJob], error) {
	return x.r.list(ctx, opts)
}

// Update replaces the CronJob's spec and metadata with obj's and returns the
// stored CronJob. With metadata.resourceVersion set, the update applies only
// if nobody changed it since (else ErrConflict). Not retried.
func (x *CronJobClient) Update(ctx context.Context, obj *v1.CronJob) (*v1.CronJob, error) {
	return x.r.update(ctx, obj)
}

// Delete deletes a CronJob and, by opts.PropagationPolicy, the Jobs it created. It returns
// the CronJob as it was. Retried on Unavailable.
func (x *CronJobClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.CronJob, error) {
	return x.r.delete(ctx, name, opts)
}

// Watch streams changes to the CronJobs, as JobClient.Watch does for Jobs.
func (x *CronJobClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.CronJob], error) {
	return x.r.watch(ctx, opts)
}

// DaemonSetClient reads and writes the DaemonSets of one namespace (all namespaces
// for List and Watch when the namespace is "").
type DaemonSetClient struct{ r resource[*v1.DaemonSet] }

// DaemonSets returns the DaemonSet client of namespace ns. "" lists and watches
// every namespace; single-object calls then use "default".
func (c *Client) DaemonSets(ns string) *DaemonSetClient {
	api := c.api
	return &DaemonSetClient{resource[*v1.DaemonSet]{c: c, ns: ns, rpc: rpcs[*v1.DaemonSet]{
		name: "daemonset", namespaced: true,
		create: func(ctx context.Context, o *v1.DaemonSet, dry bool) (*v1.DaemonSet, error) {
			r, err := api.CreateDaemonSet(ctx, &v1.CreateDaemonSetRequest{DaemonSet: o, DryRun: dry})
			return r.GetDaemonSet(), err
		},
		get: func(ctx context.Context, ns, name string) (*v1.DaemonSet, error) {
			r, err := api.GetDaemonSet(ctx, &v1.GetDaemonSetRequest{Namespace: ns, Name: name})
			return r.GetDaemonSet(), err
		},
		list: func(ctx context.Context, ns string, o *v1.ListOptions) ([]*v1.DaemonSet, *v1.ListMeta, error) {
			r, err := api.ListDaemonSets(ctx, &v1.ListDaemonSetsRequest{Namespace: ns, Options: o})
			return r.GetItems(), r.GetMetadata(), err
		},
		update: func(ctx context.Context, o *v1.DaemonSet) (*v1.DaemonSet, error) {
			r, err := api.UpdateDaemonSet(ctx, &v1.UpdateDaemonSetRequest{DaemonSet: o})
			return r.GetDaemonSet(), err
		},
		delete: func(ctx context.Context, ns, name string, o *v1.DeleteOptions) (*v1.DaemonSet, error) {
			r, err := api.DeleteDaemonSet(ctx, &v1.DeleteDaemonSetRequest{Namespace: ns, Name: name, Options: o})
			return r.GetDaemonSet(), err
		},
		watch: func(ctx context.Context, ns string, o *v1.ListOptions) (recvFunc[*v1.DaemonSet], error) {
			return recvOf[*v1.DaemonSet, *v1.WatchDaemonSetsResponse](api.WatchDaemonSets(ctx, &v1.WatchDaemonSetsRequest{Namespace: ns, Options: o}))
		},
	}}}
}

// Create validates and stores a new DaemonSet and returns it as stored. A
// DaemonSet without a namespace gets the client's (or "default"). Not retried.
// Fails with ErrAlreadyExists or ErrInvalid (see FieldErrors).
func (x *DaemonSetClient) Create(ctx context.Context, obj *v1.DaemonSet, opts ...CreateOption) (*v1.DaemonSet, error) {
	return x.r.create(ctx, obj, opts)
}

// Get returns one DaemonSet, or ErrNotFound. Retried on Unavailable.
func (x *DaemonSetClient) Get(ctx context.Context, name string) (*v1.DaemonSet, error) {
	return x.r.get(ctx, name)
}

// List returns the DaemonSets matching opts (see ListOptions.Limit for
// paging). Retried on Unavailable.
func (x *DaemonSetClient) List(ctx context.Context, opts ListOptions) (*List[*v1.DaemonSet], error) {
	return x.r.list(ctx, opts)
}

// Update replaces the DaemonSet's spec and metadata with obj's and returns the
// stored DaemonSet. With metadata.resourceVersion set, the update applies only
// if nobody changed it since (else ErrConflict). Not retried.
func (x *DaemonSetClient) Update(ctx context.Context, obj *v1.DaemonSet) (*v1.DaemonSet, error) {
	return x.r.update(ctx, obj)
}

// Delete deletes a DaemonSet and, by opts.PropagationPolicy, its pods. It returns
// the DaemonSet as it was. Retried on Unavailable.
func (x *DaemonSetClient) Delete(ctx context.Context, name string, opts DeleteOptions) (*v1.DaemonSet, error) {
	return x.r.delete(ctx, name, opts)
}

// Watch streams changes to the DaemonSets, as JobClient.Watch does for Jobs.
func (x *DaemonSetClient) Watch(ctx context.Context, opts ListOptions) (*Watcher[*v1.DaemonSet], error) {
	return x.r.watch(ctx, opts)
}
