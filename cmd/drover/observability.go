package main

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/internal/metrics"
)

// observeFlags are the --metrics-listen and --pprof-listen flags of the
// long-running commands (controller, worker, hollow).
type observeFlags struct {
	metricsListen, pprofListen string
}

func (o *observeFlags) register(f *pflag.FlagSet) {
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9090 (default off)")
	f.StringVar(&o.pprofListen, "pprof-listen", "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (default off)")
}

// start opens the listeners that were asked for and serves them until ctx
// ends; wait blocks until they have stopped.
func (o *observeFlags) start(ctx context.Context, lg *zap.Logger, g prometheus.Gatherer, ready metrics.ReadyFunc) (wait func(), err error) {
	var wg sync.WaitGroup
	serve := func(addr, what string, s *metrics.Server) {
		lg.Info("serving "+what, zap.String("addr", s.Addr()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx); err != nil {
				lg.Error(what+" server failed", zap.Error(err))
			}
		}()
	}
	if o.metricsListen != "" {
		s, err := metrics.Listen(o.metricsListen, metrics.Handler(g, ready))
		if err != nil {
			return nil, err
		}
		serve(o.metricsListen, "metrics", s)
	}
	if o.pprofListen != "" {
		s, err := metrics.Listen(o.pprofListen, metrics.PprofHandler())
		if err != nil {
			return nil, err
		}
		serve(o.pprofListen, "pprof", s)
	}
	return wg.Wait, nil
}
