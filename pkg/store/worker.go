package store

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// Heartbeat is the value of a node's liveness key (HeartbeatKey), which is
// attached to the worker's lease: etcd deletes it when the lease expires.
type Heartbeat struct {
	Node                 string `json:"node"`
	LeaseID              int64  `json:"leaseId"`
	RenewIntervalSeconds int64  `json:"renewIntervalSeconds"`
}

// PutHeartbeat writes hb under HeartbeatKey(hb.Node), attached to hb.LeaseID.
func (s *Store) PutHeartbeat(ctx context.Context, hb Heartbeat) error {
	b, err := json.Marshal(hb)
	if err != nil {
		return fmt.Errorf("store: encode heartbeat: %w", err)
	}
	if _, err := s.cli.Put(ctx, HeartbeatKey(hb.Node), string(b), clientv3.WithLease(clientv3.LeaseID(hb.LeaseID))); err != nil {
		return fmt.Errorf("store: put heartbeat: %w", err)
	}
	return nil
}

// DecodeHeartbeat parses the value of a liveness key.
func DecodeHeartbeat(b []byte) (Heartbeat, error) {
	var hb Heartbeat
	if err := json.Unmarshal(b, &hb); err != nil {
		return hb, fmt.Errorf("store: decode heartbeat: %w", err)
	}
	return hb, nil
}

// Assignments returns the accessor of the pods assigned to node (keys
// AssignmentKey(node, namespace, pod)), for reading: Get, List, ListPage,
// Watch and Decode. Publish and withdraw assignments with Txn.PutAssignment
// and Txn.DeleteAssignment; Create and Update on this accessor would write
// the Pod's own key, not the assignment.
func (s *Store) Assignments(node string) Kind[*v1.Pod] {
	return Kind[*v1.Pod]{s: s, prefix: AssignmentPrefix(node), namespaced: true, new: func() *v1.Pod { return &v1.Pod{} }}
}
