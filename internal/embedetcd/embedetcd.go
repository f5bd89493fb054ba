// Package embedetcd starts a single-member etcd inside the process, for
// `drover dev` and for tests (SPEC I2).
package embedetcd

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Config says where the embedded etcd keeps its data and listens.
type Config struct {
	// Dir is the data directory; it is created if missing and reused if present.
	Dir string
	// ClientAddr is host:port for clients, e.g. 127.0.0.1:2379; port 0 picks a free port.
	ClientAddr string
	// PeerAddr is host:port for the (unused) peer listener; empty picks a free loopback port.
	PeerAddr string
	// Logger receives etcd's own logs; nil discards them.
	Logger *zap.Logger
}

// Server is a running embedded etcd.
type Server struct {
	e        *embed.Etcd
	endpoint string
}

// Start starts etcd and blocks until it serves clients or 60 s pass.
func Start(cfg Config) (*Server, error) {
	clientAddr, err := resolve(cfg.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: client address: %w", err)
	}
	peerAddr, err := resolve(cfg.PeerAddr)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: peer address: %w", err)
	}
	ec := embed.NewConfig()
	ec.Name = "drover"
	ec.Dir = cfg.Dir
	cu := url.URL{Scheme: "http", Host: clientAddr}
	pu := url.URL{Scheme: "http", Host: peerAddr}
	ec.ListenClientUrls = []url.URL{cu}
	ec.AdvertiseClientUrls = []url.URL{cu}
	ec.ListenPeerUrls = []url.URL{pu}
	ec.AdvertisePeerUrls = []url.URL{pu}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.MaxTxnOps = 1024
	// Keep a day of history so that watches can resume after a restart, and
	// compact periodically so that the database does not grow without bound.
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"
	if cfg.Logger != nil {
		ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(cfg.Logger)
	} else {
		ec.LogLevel = "error"
		ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: start: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedetcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedetcd: not ready after 60s")
	}
	return &Server{e: e, endpoint: "http://" + e.Clients[0].Addr().String()}, nil
}

// Endpoint is the client URL, e.g. http://127.0.0.1:2379.
func (s *Server) Endpoint() string { return s.endpoint }

// Close stops etcd and waits for it.
func (s *Server) Close() { s.e.Close() }

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error { return s.e.Err() }

// resolve turns "" or a port-0 address into a free loopback address.
func resolve(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
