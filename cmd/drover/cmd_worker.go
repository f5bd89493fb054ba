package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/internal/metrics"
	"github.com/drover-dev/drover/worker"
	"github.com/drover-dev/drover/worker/runtime/docker"
	"github.com/drover-dev/drover/worker/runtime/fake"
	"github.com/drover-dev/drover/worker/runtime/process"
)

func init() {
	var (
		endpoints, name, runtimeName, dataDir, listen, advertise string
		labels, capacity, logLevel                               string
		dockerSocket, dockerNetwork, dockerPIDContainer          string
		heartbeat, leaseTTL                                      time.Duration
		fakeOpts                                                 fakeFlags
		logLimits                                                logLimitFlags
		observe                                                  observeFlags
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the node agent: register this machine and run the pods assigned to it",
		Long: `Run Drover's node agent on this machine.

The worker registers a node in etcd and keeps an etcd lease alive, renewing it
every --heartbeat-interval; the lease expires --lease-ttl after the last
renewal, and the controller then replaces the node's pods elsewhere. It runs
the pods the controller assigns to the node, writes their status, and serves
their logs to 'drover logs' on --listen.

Pods run as local processes under a small shim ('drover __shim'), so they keep
running when the worker stops or restarts: a worker restarted with the same
--name and --data-dir keeps the pods that are still assigned to it. If the
worker cannot renew its lease for 3/4 of the TTL it kills its pods (SIGKILL),
so that a pod replaced elsewhere never runs twice; the shims do the same on
their own if the worker is dead or stopped.

With --runtime docker, pods run as Docker containers on the engine at
--docker-socket (images are never pulled: a missing image fails the pod with
reason ImageNotFound). The engine keeps them across worker restarts; the kill
deadline is a timer in the worker, so a worker that runs in a container names
itself with --docker-pid-container to make its pods die with it.

Each container's log (its stdout and stderr) is rotated at
--container-log-max-size, keeping --container-log-max-files files, as the
kubelet does: at most 10Mi x 5 per container by default, the oldest output
dropped first. With --runtime docker the engine's json-file driver does it
(max-size, max-file).

Stop it with SIGINT or SIGTERM: its pods keep running, for a worker restarted
in time to find them; if no worker renews the node's lease within 3/4 of the
TTL, the shims kill them.`,
		Example: `  drover worker --etcd-endpoints http://10.0.0.5:2379 --name node-a --labels zone=eu1,disk=ssd
  drover worker --listen 0.0.0.0:7071 --capacity cpu=4,memory=8Gi`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runtimeName != process.Name && runtimeName != docker.Name && runtimeName != fake.Name {
				return fmt.Errorf("--runtime %q: one of %q, %q, %q", runtimeName, process.Name, docker.Name, fake.Name)
			}
			logMaxSize, logMaxFiles, err := logLimits.values()
			if err != nil {
				return err
			}
			if name == "" {
				h, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("--name: %w", err)
				}
				name = strings.ToLower(h)
			}
			if dataDir == "" {
				cache, err := os.UserCacheDir()
				if err != nil {
					return fmt.Errorf("--data-dir: %w", err)
				}
				dataDir = filepath.Join(cache, "drover", "worker-"+name)
			}
			lbls, err := parsePairs("--labels", labels)
			if err != nil {
				return err
			}
			caps, err := parsePairs("--capacity", capacity)
			if err != nil {
				return err
			}
			// Named resources replace the measured ones; the worker
			// measures the rest (cpu, memory, pods) itself.
			lg, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			defer lg.Sync()
			cli, err := newEtcdClient(endpoints, lg)
			if err != nil {
				return err
			}
			defer cli.Close()
			var rt *docker.Runtime
			if runtimeName == docker.Name {
				rt, err = docker.New(docker.Config{Socket: dockerSocket, Scope: name, Network: dockerNetwork,
					PIDContainer: dockerPIDContainer, LogMaxSize: logMaxSize, LogMaxFiles: logMaxFiles, Logger: lg})
				if err != nil {
					return err
				}
				pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = rt.Ping(pctx)
				cancel()
				if err != nil {
					return fmt.Errorf("--runtime docker: %w", err)
				}
			}
			wcfg := worker.Config{
				NodeName:          name,
				Etcd:              cli,
				HeartbeatInterval: heartbeat,
				LeaseTTL:          leaseTTL,
				DataDir:           dataDir,
				AgentListen:       listen,
				AdvertiseAddr:     advertise,
				Labels:            lbls,
				Capacity:          caps,
				Logger:            lg,

				ContainerLogMaxSize:  logMaxSize,
				ContainerLogMaxFiles: logMaxFiles,
			}
			if rt != nil {
				wcfg.Runtime, wcfg.RuntimeName = rt, docker.Name
			}
			if runtimeName == fake.Name {
				frt, err := fakeOpts.runtime()
				if err != nil {
					return err
				}
				// The fake keeps its containers in memory: no socket.
				wcfg.Runtime, wcfg.RuntimeName, wcfg.InProcessRuntime = frt, fake.Name, true
			}
			reg := metrics.NewRegistry()
			wcfg.Metrics = metrics.NewWorker(reg)
			w, err := worker.New(wcfg)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			wait, err := observe.start(ctx, lg, reg, func(context.Context) error { return w.Ready() })
			if err != nil {
				return err
			}
			defer func() { cancel(); wait() }()
			lg.Info("worker starting", zap.String("node", name), zap.String("etcd", endpoints),
				zap.String("agent", w.AgentAddr()), zap.String("data_dir", w.DataDir()))
			return w.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoints, "etcd-endpoints", envDefault("DROVER_ETCD_ENDPOINTS", "http://127.0.0.1:2379"), "comma-separated etcd client URLs (env DROVER_ETCD_ENDPOINTS)")
	f.StringVar(&name, "name", "", "node name (default this machine's hostname)")
	f.DurationVar(&heartbeat, "heartbeat-interval", worker.DefaultHeartbeatInterval, "how often the lease is renewed")
	f.DurationVar(&leaseTTL, "lease-ttl", worker.DefaultLeaseTTL, "lease TTL, whole seconds; pods are killed after 3/4 of it without a renewal")
	f.StringVar(&runtimeName, "runtime", process.Name, "container runtime: process (pods run as local processes; the image is ignored), docker (pods run as Docker containers) or fake (hollow node: pods pretend to run for --fake-duration, no processes)")
	fakeOpts.register(f)
	logLimits.register(f)
	observe.register(f)
	f.StringVar(&dockerSocket, "docker-socket", docker.DefaultSocket, "--runtime docker: the Docker Engine's unix socket")
	f.StringVar(&dockerNetwork, "docker-network", "none", "--runtime docker: the pods' network mode (none, bridge, or a network name)")
	f.StringVar(&dockerPIDContainer, "docker-pid-container", "", "--runtime docker: a container whose PID namespace pods join, so they die with it (the worker's own container)")
	f.StringVar(&dataDir, "data-dir", "", "where containers, their logs and the runtime socket live (default <user cache dir>/drover/worker-<name>)")
	f.StringVar(&listen, "listen", worker.DefaultAgentListen, "address of the node agent service (pod logs)")
	f.StringVar(&advertise, "advertise", "", "host:port published for the node agent service (default the --listen address)")
	f.StringVar(&labels, "labels", "", "node labels, k=v,k=v (kubernetes.io/hostname=<name> is added)")
	f.StringVar(&capacity, "capacity", "", "node capacity, e.g. cpu=4,memory=8Gi,pods=50 (default measured: CPUs, RAM, 110 pods)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	rootCmd.AddCommand(cmd)
}

// parsePairs parses "k=v,k=v".
func parsePairs(flag, s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", flag, kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
