// Package etcdtest runs a real embedded etcd for a test, in t.TempDir(), on a
// free loopback port.
package etcdtest

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/internal/embedetcd"
)

// Start starts etcd for t and returns a connected client; both are closed
// when t ends.
func Start(t testing.TB) (*clientv3.Client, *embedetcd.Server) {
	t.Helper()
	srv, err := embedetcd.Start(embedetcd.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	return Client(t, srv.Endpoint()), srv
}

// Client returns a client of endpoint that is closed when t ends.
func Client(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
