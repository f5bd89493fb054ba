// Package store is Drover's typed view of etcd: the key layout (keys.go), the
// JSON codec, and get/list/watch/transactions with mod-revision checks. Callers
// never build key strings or marshal values themselves.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// MaxTxnOps is the most operations Drover puts in one transaction; etcd's
// default limit (--max-txn-ops) is 128.
const MaxTxnOps = 128

// Request sizes (SPEC B1). etcd refuses a request over --max-request-bytes
// (1.5 MiB by default) and its client one over 2 MiB ("trying to send
// message larger than max"). Code that batches writes fills a transaction
// up to MaxTxnBytes (see Full) and adds at most MaxPodBytes*2 past it, so
// that a batch never reaches MaxRequestBytes; admission refuses a pod
// template that could make a pod larger than MaxPodBytes.
const (
	MaxRequestBytes = 1536 << 10
	MaxTxnBytes     = 768 << 10
	MaxPodBytes     = 320 << 10
)

// ErrTooLarge is returned by Commit for a transaction larger than etcd
// accepts.
var ErrTooLarge = errors.New("store: transaction too large")

// EventTTL is how long events are kept (SPEC J17).
const EventTTL = time.Hour

// Store reads and writes Drover's objects in etcd. A fenced Store (see
// Fenced) adds the leader's election key to every transaction it commits, so
// that a deposed leader's writes fail with ErrNotLeader (SPEC L1).
type Store struct {
	cli   *clientv3.Client
	fence *fence

	evMu      sync.Mutex
	evLease   clientv3.LeaseID
	evGranted time.Time
}

type fence struct {
	key      string
	rev      int64
	onFenced func()
}

// New returns a Store over cli.
func New(cli *clientv3.Client) *Store { return &Store{cli: cli} }

// Client returns the etcd client.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Fenced returns a Store whose transactions also require that the election key
// leaderKey still exists with create revision rev. onFenced, if not nil, is
// called (once per failed commit) when a commit fails for that reason, so
// the deposed leader can step down.
func (s *Store) Fenced(leaderKey string, rev int64, onFenced func()) *Store {
	return &Store{cli: s.cli, fence: &fence{key: leaderKey, rev: rev, onFenced: onFenced}}
}

// Jobs returns the typed accessor for Jobs.
func (s *Store) Jobs() Kind[*v1.Job] {
	return Kind[*v1.Job]{s: s, prefix: JobsPrefix, namespaced: true, new: func() *v1.Job { return &v1.Job{} }}
}

// CronJobs returns the typed accessor for CronJobs.
func (s *Store) CronJobs() Kind[*v1.CronJob] {
	return Kind[*v1.CronJob]{s: s, prefix: CronJobsPrefix, namespaced: true, new: func() *v1.CronJob { return &v1.CronJob{} }}
}

// DaemonSets returns the typed accessor for DaemonSets.
func (s *Store) DaemonSets() Kind[*v1.DaemonSet] {
	return Kind[*v1.DaemonSet]{s: s, prefix: DaemonSetsPrefix, namespaced: true, new: func() *v1.DaemonSet { return &v1.DaemonSet{} }}
}

// Pods returns the typed accessor for Pods.
func (s *Store) Pods() Kind[*v1.Pod] {
	return Kind[*v1.Pod]{s: s, prefix: PodsPrefix, namespaced: true, new: func() *v1.Pod { return &v1.Pod{} }}
}

// Nodes returns the typed accessor for Nodes.
func (s *Store) Nodes() Kind[*v1.Node] {
	return Kind[*v1.Node]{s: s, prefix: NodesPrefix, namespaced: false, new: func() *v1.Node { return &v1.Node{} }}
}

// Events returns the typed accessor for Events.
func (s *Store) Events() Kind[*v1.Event] {
	return Kind[*v1.Event]{s: s, prefix: EventsPrefix, namespaced: true, new: func() *v1.Event { return &v1.Event{} }}
}

// KeyOf returns the key an object is stored under.
func KeyOf(obj Object) (string, error) {
	md := obj.GetMetadata()
	if md.GetName() == "" {
		return "", fmt.Errorf("store: object has no name")
	}
	switch obj.(type) {
	case *v1.Job:
		return namespacedKey(JobsPrefix, md.Namespace, md.Name), nil
	case *v1.Pod:
		return namespacedKey(PodsPrefix, md.Namespace, md.Name), nil
	case *v1.CronJob:
		return namespacedKey(CronJobsPrefix, md.Namespace, md.Name), nil
	case *v1.DaemonSet:
		return namespacedKey(DaemonSetsPrefix, md.Namespace, md.Name), nil
	case *v1.Event:
		return namespacedKey(EventsPrefix, md.Namespace, md.Name), nil
	case *v1.Node:
		return NodesPrefix + md.Name, nil
	}
	return "", fmt.Errorf("store: no key for %T", obj)
}

// RecordEvent stores ev under the shared events lease, so it expires after
// about EventTTL. Events are best effort and not fenced: a stale event from a
// deposed leader is harmless.
func (s *Store) RecordEvent(ctx context.Context, ev *v1.Event) error {
	lease, err := s.eventLease(ctx)
	if err != nil {
		return err
	}
	key, err := KeyOf(ev)
	if err != nil {
		return err
	}
	b, err := encode(ev)
	if err != nil {
		return err
	}
	if _, err := s.cli.Put(ctx, key, string(b), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("store: record event: %w", err)
	}
	return nil
}

// eventLease returns a lease of EventTTL, granting a new one every EventTTL/2.
func (s *Store) eventLease(ctx context.Context) (clientv3.LeaseID, error) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.evLease != 0 && time.Since(s.evGranted) < EventTTL/2 {
		return s.evLease, nil
	}
	resp, err := s.cli.Grant(ctx, int64(EventTTL/time.Second))
	if err != nil {
		return 0, fmt.Errorf("store: grant events lease: %w", err)
	}
	s.evLease, s.evGranted = resp.ID, time.Now()
	return s.evLease, nil
}

// Txn starts a transaction. Objects added with Create, Update and Delete are
// checked against their mod revisions; Commit applies all of it or nothing.
func (s *Store) Txn() *Txn { return &Txn{s: s} }

// Txn is a multi-object transaction. It is not safe for concurrent use.
type Txn struct {
	s       *Store
	cmps    []clientv3.Cmp
	ops     []clientv3.Op
	written []Object
	bytes   int
	err     error
}

// Len is the number of write operations in the transaction.
func (t *Txn) Len() int { return len(t.ops) }

// Bytes is the size of the keys and values the transaction writes.
func (t *Txn) Bytes() int { return t.bytes }

// Full reports whether a batch should stop adding to the transaction:
// reserve more operations than any caller adds at once (2), or fill past
// MaxTxnBytes.
func (t *Txn) Full() bool { return len(t.ops) >= MaxTxnOps-2 || t.bytes >= MaxTxnBytes }

func (t *Txn) put(key string, b []byte) {
	t.ops = append(t.ops, clientv3.OpPut(key, string(b)))
	t.bytes += len(key) + len(b)
}

// If adds raw comparisons.
func (t *Txn) If(cmps ...clientv3.Cmp) *Txn { t.cmps = append(t.cmps, cmps...); return t }

// Create adds obj, which must not exist yet.
func (t *Txn) Create(obj Object) *Txn {
	key, b, err := keyAndValue(obj)
	if err != nil {
		t.err = err
		return t
	}
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
	t.put(key, b)
	t.written = append(t.written, obj)
	return t
}

// Update writes obj if its stored mod revision still equals obj's resourceVersion.
func (t *Txn) Update(obj Object) *Txn {
	key, b, err := keyAndValue(obj)
	if err != nil {
		t.err = err
		return t
	}
	rev, err := Revision(obj)
	if err != nil {
		t.err = err
		return t
	}
	if rev == 0 {
		t.err = fmt.Errorf("store: update %s: %w", key, ErrInvalidRevision)
		return t
	}
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	t.put(key, b)
	t.written = append(t.written, obj)
	return t
}

// Delete removes obj if its stored mod revision still equals obj's
// resourceVersion (any revision when it is unset).
func (t *Txn) Delete(obj Object) *Txn {
	key, err := KeyOf(obj)
	if err != nil {
		t.err = err
		return t
	}
	rev, err := Revision(obj)
	if err != nil {
		t.err = err
		return t
	}
	if rev != 0 {
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	}
	t.ops = append(t.ops, clientv3.OpDelete(key))
	return t
}

// PutAssignment publishes pod (bound to node) to that node's worker.
func (t *Txn) PutAssignment(pod *v1.Pod) *Txn {
	b, err := encode(pod)
	if err != nil {
		t.err = err
		return t
	}
	key := AssignmentKey(pod.GetSpec().GetNodeName(), pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName())
	t.put(key, b)
	return t
}

// DeleteAssignment withdraws a pod from a node's worker.
func (t *Txn) DeleteAssignment(node, namespace, pod string) *Txn {
	t.ops = append(t.ops, clientv3.OpDelete(AssignmentKey(node, namespace, pod)))
	return t
}

// Commit applies the transaction. It returns the revision it was applied at,
// ErrConflict when an object changed (or a created one exists), or
// ErrNotLeader when the Store is fenced and its leadership is gone. Objects
// written by the transaction get the new resourceVersion.
func (t *Txn) Commit(ctx context.Context) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	if len(t.ops) == 0 {
		return 0, nil
	}
	if len(t.ops) > MaxTxnOps {
		return 0, fmt.Errorf("store: transaction has %d operations, more than %d", len(t.ops), MaxTxnOps)
	}
	if t.bytes > MaxRequestBytes {
		return 0, fmt.Errorf("%w: %d bytes of keys and values, more than etcd's %d", ErrTooLarge, t.bytes, MaxRequestBytes)
	}
	cmps := t.cmps
	var orElse []clientv3.Op
	if f := t.s.fence; f != nil {
		cmps = append(cmps[:len(cmps):len(cmps)], clientv3.Compare(clientv3.CreateRevision(f.key), "=", f.rev))
		orElse = append(orElse, clientv3.OpGet(f.key))
	}
	resp, err := t.s.cli.Txn(ctx).If(cmps...).Then(t.ops...).Else(orElse...).Commit()
	if err != nil {
		return 0, fmt.Errorf("store: commit: %w", err)
	}
	if !resp.Succeeded {
		if f := t.s.fence; f != nil {
			kvs := resp.Responses[0].GetResponseRange().GetKvs()
			if len(kvs) == 0 || kvs[0].CreateRevision != f.rev {
				if f.onFenced != nil {
					f.onFenced()
				}
				return 0, ErrNotLeader
			}
		}
		return 0, ErrConflict
	}
	rev := resp.Header.Revision
	for _, o := range t.written {
		o.GetMetadata().ResourceVersion = fmt.Sprint(rev)
	}
	return rev, nil
}

func keyAndValue(obj Object) (string, []byte, error) {
	key, err := KeyOf(obj)
	if err != nil {
		return "", nil, err
	}
	b, err := encode(obj)
	return key, b, err
}

// IsRetryable reports whether err is a conflict worth retrying after a re-read.
func IsRetryable(err error) bool { return errors.Is(err, ErrConflict) }
