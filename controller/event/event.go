// Package event records events about an object (SPEC J17), the way the
// reconcilers report what they did: best effort, named so that several
// events of one reconcile do not collide, stored with the events lease.
package event

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// Event is one event to record: Type is Normal or Warning.
type Event struct {
	Type, Reason, Message string
}

// Record stores evs about obj, from source, at now. Failures are logged at
// debug level and otherwise ignored: an event is never worth failing a
// reconcile for. Events about a cluster-scoped object (a Node) go to the
// default namespace, as in Kubernetes.
func Record(ctx context.Context, st *store.Store, lg *zap.Logger, obj *v1.ObjectReference, source string, evs []Event, now time.Time) {
	ts := timestamppb.New(now)
	ns := obj.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	for i, e := range evs {
		ev := &v1.Event{
			ApiVersion: "v1", Kind: "Event",
			Metadata: &v1.ObjectMeta{
				Name:              fmt.Sprintf("%s.%x%02d", obj.GetName(), now.UnixNano(), i),
				Namespace:         ns,
				CreationTimestamp: ts,
			},
			InvolvedObject: obj,
			Reason:         e.Reason, Message: e.Message, Type: e.Type,
			FirstTimestamp: ts, LastTimestamp: ts, Count: 1,
			Source: source,
		}
		if err := st.RecordEvent(ctx, ev); err != nil {
			lg.Debug("record event failed", zap.String("object", obj.GetName()), zap.String("reason", e.Reason), zap.Error(err))
		}
	}
}

// RefTo returns a reference to obj (a Job, CronJob, DaemonSet, Pod or Node),
// or nil for another kind or an object without metadata (a nil *v1.Job).
func RefTo(obj store.Object) *v1.ObjectReference {
	var apiVersion, kind string
	switch obj.(type) {
	case *v1.Job:
		apiVersion, kind = "batch/v1", "Job"
	case *v1.CronJob:
		apiVersion, kind = "batch/v1", "CronJob"
	case *v1.DaemonSet:
		apiVersion, kind = "apps/v1", "DaemonSet"
	case *v1.Pod:
		apiVersion, kind = "v1", "Pod"
	case *v1.Node:
		apiVersion, kind = "v1", "Node"
	default:
		return nil
	}
	md := obj.GetMetadata()
	if md == nil {
		return nil
	}
	return &v1.ObjectReference{ApiVersion: apiVersion, Kind: kind, Namespace: md.GetNamespace(), Name: md.GetName(), Uid: md.GetUid()}
}
