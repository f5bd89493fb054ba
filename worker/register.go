package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	goruntime "runtime"
	"strconv"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// Node address and label names the worker publishes.
const (
	// AddressAgentEndpoint is the type of the node address where the
	// worker serves the NodeAgentService.
	AddressAgentEndpoint = "AgentEndpoint"
	// LabelHostname is the node label holding the node name.
	LabelHostname = "kubernetes.io/hostname"
)

// DefaultCapacity is this machine's capacity: cpu = number of CPUs, memory =
// total RAM (in Ki, as Kubernetes reports it), pods = 110.
func DefaultCapacity() map[string]string {
	c := map[string]string{"cpu": strconv.Itoa(goruntime.NumCPU()), "pods": DefaultMaxPods}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		c["memory"] = strconv.FormatUint(uint64(si.Totalram)*uint64(si.Unit)/1024, 10) + "Ki"
	}
	return c
}

// withMeasuredCapacity returns given with every resource of DefaultCapacity
// that it does not name (or names with an empty value) filled in by
// measuring this machine. A worker never publishes a node without cpu,
// memory and pods: the scheduler would take a missing resource as unlimited
// (issue 13 #7, SPEC N1, S1).
func withMeasuredCapacity(given map[string]string) map[string]string {
	c := DefaultCapacity()
	for k, v := range given {
		if v != "" {
			c[k] = v
		}
	}
	return c
}

// register writes the liveness key attached to lease and then the node object
// (creating it, or updating it while keeping what others own:
// spec.unschedulable, uid, creationTimestamp, annotations) (SPEC N1). The node object is
// not attached to the lease: it stays when the lease expires.
func (w *Worker) register(ctx context.Context, lease clientv3.LeaseID) error {
	now := timestamppb.New(w.clock.Now())
	labels := map[string]string{}
	for k, v := range w.cfg.Labels {
		labels[k] = v
	}
	labels[LabelHostname] = w.cfg.NodeName
	status := &v1.NodeStatus{
		Capacity:        w.cfg.Capacity,
		Allocatable:     w.cfg.Capacity,
		LeaseId:         int64(lease),
		LeaseTtlSeconds: int64(w.cfg.LeaseTTL.Seconds()),
		Runtime:         w.cfg.RuntimeName,
		Conditions: []*v1.NodeCondition{{
			Type: "Ready", Status: "True", Reason: "WorkerRegistered",
			Message:           "the worker holds lease " + strconv.FormatInt(int64(lease), 16),
			LastHeartbeatTime: now, LastTransitionTime: now,
		}},
	}
	if w.cfg.AdvertiseAddr != "" { // none without a NodeAgentService
		status.Addresses = []*v1.NodeAddress{{Type: AddressAgentEndpoint, Address: w.cfg.AdvertiseAddr}}
	}
	// The liveness key goes first: the controller ignores a liveness key
	// without a node, but would declare a node without one lost (N2), so the
	// other order made every new node flap NotReady for a moment.
	if err := w.st.PutHeartbeat(ctx, store.Heartbeat{
		Node:                 w.cfg.NodeName,
		LeaseID:              int64(lease),
		RenewIntervalSeconds: int64(math.Ceil(w.cfg.HeartbeatInterval.Seconds())),
	}); err != nil {
		return err
	}
	for {
		node, err := w.st.Nodes().Get(ctx, "", w.cfg.NodeName)
		if errors.Is(err, store.ErrNotFound) {
			node = &v1.Node{
				ApiVersion: "v1", Kind: "Node",
				Metadata: &v1.ObjectMeta{Name: w.cfg.NodeName, Uid: uuid.NewString(), CreationTimestamp: now, Labels: labels},
				Spec:     &v1.NodeSpec{},
				Status:   status,
			}
			_, err = w.st.Nodes().Create(ctx, node)
			if errors.Is(err, store.ErrAlreadyExists) {
				continue
			}
		} else if err == nil {
			node.ApiVersion, node.Kind = "v1", "Node"
			node.Metadata.Labels = labels
			if node.Metadata.Uid == "" {
				node.Metadata.Uid = uuid.NewString()
			}
			if node.Metadata.CreationTimestamp == nil {
				node.Metadata.CreationTimestamp = now
			}
			node.Status = status
			_, err = w.st.Nodes().Update(ctx, node)
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("worker: register node: %w", err)
		}
		break
	}
	return nil
}
