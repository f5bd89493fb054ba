package client

import (
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// ListOptions filters lists and watches.
type ListOptions struct {
	// LabelSelector in kubectl form: "app=web,tier!=db,env in (a,b),!canary".
	LabelSelector string
	// Limit is the page size. With 0 the client follows continue tokens and
	// returns every object; with a limit it returns one page.
	Limit int64
	// Continue resumes a paged list from List.Continue.
	Continue string
	// ResourceVersion is where a watch starts, exclusive: events after it.
	// Empty starts from now, with every current object first as ADDED.
	ResourceVersion string
}

func (o ListOptions) proto() *v1.ListOptions {
	return &v1.ListOptions{
		LabelSelector:   o.LabelSelector,
		Limit:           o.Limit,
		ContinueToken:   o.Continue,
		ResourceVersion: o.ResourceVersion,
	}
}

// List is one list result.
type List[T any] struct {
	// Items are the objects, ordered by namespace and name.
	Items []T
	// ResourceVersion is the store revision the list was read at: watch from
	// it to see every later change.
	ResourceVersion string
	// Continue is non-empty when more pages remain (only with a Limit).
	Continue string
}

// Propagation policies for DeleteOptions (SPEC J12).
const (
	DeleteBackground = "Background"
	DeleteForeground = "Foreground"
	DeleteOrphan     = "Orphan"
)

// DeleteOptions chooses what happens to dependents.
type DeleteOptions struct {
	// PropagationPolicy is DeleteBackground (the server's default when
	// empty), DeleteForeground or DeleteOrphan.
	PropagationPolicy string
	// ResourceVersion, when set, must match the stored object (else a
	// conflict error).
	ResourceVersion string
}

func (o DeleteOptions) proto() *v1.DeleteOptions {
	return &v1.DeleteOptions{PropagationPolicy: o.PropagationPolicy, ResourceVersion: o.ResourceVersion}
}

// CreateOption modifies a create.
type CreateOption func(*createOptions)

type createOptions struct{ dryRun bool }

// DryRun makes the server validate and default the object and return it
// without storing it.
func DryRun() CreateOption { return func(o *createOptions) { o.dryRun = true } }
