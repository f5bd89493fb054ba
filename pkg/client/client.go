package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// DefaultAddress is where the CLI looks for the API when told nothing else.
const DefaultAddress = "127.0.0.1:7070"

// Client talks to the Drover API. Create one with New and Close it when done.
type Client struct {
	conn *grpc.ClientConn
	api  v1.DroverServiceClient
	opts options
}

type options struct {
	dialTimeout  time.Duration
	maxAttempts  int
	retryBase    time.Duration
	retryMax     time.Duration
	maxRecvBytes int
	dialOptions  []grpc.DialOption
}

// Option configures New.
type Option func(*options)

// WithDialTimeout bounds how long New waits for a first connection (default
// 5 s). New returns early with an error when every address refuses. Zero
// makes New return at once and connect on the first call.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithRetry sets how idempotent calls are retried on Unavailable: at most
// attempts tries in all (1 disables retries; default 6), waiting base after
// the first failure and doubling up to max (defaults 100 ms and 2 s).
func WithRetry(attempts int, base, max time.Duration) Option {
	return func(o *options) {
		o.maxAttempts = max1(attempts)
		o.retryBase = base
		o.retryMax = max
	}
}

// WithGRPCOptions adds raw gRPC dial options (interceptors, credentials ...).
func WithGRPCOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// New connects to the API at addr, "host:port" or a comma-separated list of
// them (every controller replica serves the API). With several addresses
// the client uses one at a time and moves to the next when it fails; a call
// that failed with Unavailable is retried on the next address (idempotent
// calls only). New waits for a first connection as WithDialTimeout says;
// cancelling ctx stops that wait. The connection is plaintext (insecure),
// meant for 127.0.0.1 or a trusted network.
func New(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := options{
		dialTimeout:  5 * time.Second,
		maxAttempts:  6,
		retryBase:    100 * time.Millisecond,
		retryMax:     2 * time.Second,
		maxRecvBytes: 64 << 20,
	}
	for _, opt := range opts {
		opt(&o)
	}
	var addrs []resolver.Address
	for _, a := range strings.Split(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, resolver.Address{Addr: a})
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("client: no server address given")
	}
	r := manual.NewBuilderWithScheme("drover")
	r.InitialState(resolver.State{Addresses: addrs})
	dialOpts := append([]grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"pick_first":{}}]}`),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxRecvBytes)),
	}, o.dialOptions...)
	conn, err := grpc.NewClient(r.Scheme()+":///drover", dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := &Client{conn: conn, api: v1.NewDroverServiceClient(conn), opts: o}
	if o.dialTimeout > 0 {
		if err := c.waitConnected(ctx, addr); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return c, nil
}

// waitConnected blocks until the connection is ready, fails on every
// address, or the dial timeout passes.
func (c *Client) waitConnected(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.dialTimeout)
	defer cancel()
	c.conn.Connect()
	for {
		s := c.conn.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure:
			return &APIError{code: codes.Unavailable, msg: fmt.Sprintf("cannot connect to the Drover API at %s (is a controller running? 'drover dev' starts one)", addr)}
		}
		if !c.conn.WaitForStateChange(ctx, s) {
			return &APIError{code: codes.Unavailable, msg: fmt.Sprintf("cannot connect to the Drover API at %s within %s", addr, c.opts.dialTimeout)}
		}
	}
}

// Close releases the connection; calls in flight fail with Canceled.
func (c *Client) Close() error { return c.conn.Close() }

// API returns the raw generated gRPC client, for calls the SDK does not wrap.
func (c *Client) API() v1.DroverServiceClient { return c.api }

// retry runs op until it succeeds, fails with a code other than
// Unavailable, runs out of attempts, or ctx ends. It returns op's last
// error converted by wrap.
func (c *Client) retry(ctx context.Context, op func(ctx context.Context) error) error {
	delay := c.opts.retryBase
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		err = wrap(err)
		if !IsUnavailable(err) || attempt >= c.opts.maxAttempts {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(delay*2, c.opts.retryMax)
	}
}

// Leader says which controller replica leads (SPEC L1).
type Leader struct {
	// Identity is the leader's replica name, "" while there is none.
	Identity string
	// Revision is the election key's create revision, the leader's fencing token.
	Revision int64
	// ServingIdentity is the replica that answered.
	ServingIdentity string
}

// Leader asks the server who leads. It is retried on Unavailable.
func (c *Client) Leader(ctx context.Context) (*Leader, error) {
	var resp *v1.GetLeaderResponse
	err := c.retry(ctx, func(ctx context.Context) (err error) {
		resp, err = c.api.GetLeader(ctx, &v1.GetLeaderRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Leader{Identity: resp.GetIdentity(), Revision: resp.GetRevision(), ServingIdentity: resp.GetServingIdentity()}, nil
}

// errNoName is returned when a call needs an object name and got none.
var errNoName = errors.New("client: an object name is required")
