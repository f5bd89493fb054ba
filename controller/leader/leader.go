// Package leader elects one controller replica through etcd (SPEC L1, L2)
// with go.etcd.io/etcd/client/v3/concurrency, and hands the leader a Store
// fenced by its election key.
package leader

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/pkg/store"
)

// Elector campaigns for leadership and runs the leader's work while it leads.
type Elector struct {
	cli      *clientv3.Client
	identity string
	ttl      time.Duration
	lg       *zap.Logger
}

// New returns an Elector. ttl is the election session's lease TTL: a leader
// that dies is replaced within it (SPEC L2).
func New(cli *clientv3.Client, identity string, ttl time.Duration, lg *zap.Logger) *Elector {
	return &Elector{cli: cli, identity: identity, ttl: ttl, lg: lg.Named("leader")}
}

// LeadFunc is the leader's work. ctx ends when leadership is lost (session
// expired, or a fenced write failed) or the Elector stops; st is fenced by
// the election key. LeadFunc must return once ctx ends.
type LeadFunc func(ctx context.Context, st *store.Store)

// Run campaigns, runs lead while leading, and campaigns again after losing
// leadership, until ctx ends. On return it resigns at once, so that another
// replica takes over without waiting for the TTL.
func (e *Elector) Run(ctx context.Context, lead LeadFunc) error {
	for ctx.Err() == nil {
		if err := e.term(ctx, lead); err != nil && ctx.Err() == nil {
			e.lg.Warn("election term ended", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// term is one session: campaign, lead, resign.
func (e *Elector) term(ctx context.Context, lead LeadFunc) error {
	sess, err := concurrency.NewSession(e.cli, concurrency.WithTTL(sessionTTL(e.ttl)), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("leader: session: %w", err)
	}
	defer func() {
		// Revoke the lease so that a clean stop hands over at once.
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = e.cli.Revoke(cctx, sess.Lease())
		sess.Close()
	}()
	el := concurrency.NewElection(sess, store.LeaderElection)
	if err := el.Campaign(ctx, e.identity); err != nil {
		return fmt.Errorf("leader: campaign: %w", err)
	}
	e.lg.Info("became leader", zap.String("identity", e.identity), zap.Int64("fence_revision", el.Rev()))
	lctx, step := context.WithCancel(ctx)
	defer step()
	go func() {
		select {
		case <-sess.Done():
			e.lg.Warn("election session lost, stepping down")
			step()
		case <-lctx.Done():
		}
	}()
	fenced := store.New(e.cli).Fenced(el.Key(), el.Rev(), func() {
		e.lg.Warn("write fenced: another replica leads, stepping down")
		step()
	})
	lead(lctx, fenced)
	step()
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := el.Resign(rctx); err != nil && !errors.Is(err, context.Canceled) {
		e.lg.Debug("resign failed", zap.Error(err))
	}
	e.lg.Info("stopped leading", zap.String("identity", e.identity))
	return nil
}

// sessionTTL is the lease TTL, in whole seconds, granted for an election TTL
// of ttl. etcd deletes an expired lease in a pass that runs every 500 ms, so
// the lease is granted one second shorter than ttl (at least 1 s): a killed
// leader's key is then gone, and the next replica leads, within ttl (L2).
func sessionTTL(ttl time.Duration) int {
	return max(int(ttl/time.Second)-1, 1)
}

// Leader returns the current leader's identity and fencing revision, read
// from the election keys ("" when there is none).
func Leader(ctx context.Context, cli *clientv3.Client) (string, int64, error) {
	resp, err := cli.Get(ctx, store.LeaderPrefix, clientv3.WithFirstCreate()...)
	if err != nil {
		return "", 0, fmt.Errorf("leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, nil
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].CreateRevision, nil
}
