// Package metrics holds the Prometheus metrics of the controller and the
// worker, and the small HTTP server that exposes them with /healthz,
// /readyz and, when asked, pprof. Each process makes its own registry, so
// tests and hollow nodes never share global state.
package metrics

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Namespace prefixes every Drover metric.
const Namespace = "drover"

// latencyBuckets span 1 ms to ~16 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Controller is the controller's metrics.
type Controller struct {
	depths *queueDepths
	// Reconciles counts reconciles by controller and result (ok, error).
	Reconciles *prometheus.CounterVec
	// ReconcileErrors counts failed reconciles (panics included) by
	// controller: each is also logged at Error.
	ReconcileErrors *prometheus.CounterVec
	// ReconcilePanics counts reconciles that panicked, by controller.
	ReconcilePanics *prometheus.CounterVec
	// ReconcileSeconds is the latency of one reconcile by controller.
	ReconcileSeconds *prometheus.HistogramVec
	// PodsCreated counts pods created by any controller (seen in the cache).
	PodsCreated prometheus.Counter
	// PodsBound counts pods bound to a node by the scheduler.
	PodsBound prometheus.Counter
	// Leading is 1 while this replica leads.
	Leading prometheus.Gauge
}

// NewController registers the controller's metrics on reg.
func NewController(reg prometheus.Registerer) *Controller {
	m := &Controller{
		depths: &queueDepths{
			desc: prometheus.NewDesc(Namespace+"_controller_workqueue_depth",
				"Keys ready to be reconciled, by controller.", []string{"controller"}, nil),
			fns: map[string]func() int{},
		},
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "controller", Name: "reconcile_total",
			Help: "Reconciles by controller and result (ok, error).",
		}, []string{"controller", "result"}),
		ReconcileErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "controller", Name: "reconcile_errors_total",
			Help: "Reconciles that failed (returned an error or panicked), by controller.",
		}, []string{"controller"}),
		ReconcilePanics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "controller", Name: "reconcile_panics_total",
			Help: "Reconciles that panicked, by controller.",
		}, []string{"controller"}),
		ReconcileSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "controller", Name: "reconcile_duration_seconds",
			Help: "Time one reconcile took, by controller.", Buckets: latencyBuckets,
		}, []string{"controller"}),
		PodsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "controller", Name: "pods_created_total",
			Help: "Pods created (observed by the leader's cache).",
		}),
		PodsBound: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "scheduler", Name: "pods_bound_total",
			Help: "Pods bound to a node (observed by the leader's cache).",
		}),
		Leading: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "controller", Name: "leading",
			Help: "1 while this replica is the leader.",
		}),
	}
	reg.MustRegister(m.Reconciles, m.ReconcileErrors, m.ReconcilePanics, m.ReconcileSeconds, m.PodsCreated, m.PodsBound, m.Leading, m.depths)
	return m
}

// ObserveReconcile records one reconcile of controller.
func (m *Controller) ObserveReconcile(controller string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
		m.ReconcileErrors.WithLabelValues(controller).Inc()
	}
	m.Reconciles.WithLabelValues(controller, result).Inc()
	m.ReconcileSeconds.WithLabelValues(controller).Observe(d.Seconds())
}

// ObservePanic records that a reconcile of controller panicked (recorded
// also, as failed, by ObserveReconcile).
func (m *Controller) ObservePanic(controller string) {
	if m == nil {
		return
	}
	m.ReconcilePanics.WithLabelValues(controller).Inc()
}

// SetQueueDepth makes the work-queue depth gauge of controller read depth
// at scrape time, replacing an earlier one (a new leadership term brings
// new queues).
func (m *Controller) SetQueueDepth(controller string, depth func() int) {
	if m == nil {
		return
	}
	m.depths.mu.Lock()
	m.depths.fns[controller] = depth
	m.depths.mu.Unlock()
}

// queueDepths collects drover_controller_workqueue_depth{controller}.
type queueDepths struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	fns  map[string]func() int
}

func (q *queueDepths) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepths) Collect(ch chan<- prometheus.Metric) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for name, fn := range q.fns {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(fn()), name)
	}
}

// Worker is the worker's metrics. Hollow workers in one process share one.
type Worker struct {
	// RenewSeconds is the round trip of successful lease renewals (SPEC N1).
	RenewSeconds prometheus.Histogram
	// RenewFailures counts failed renewals and registrations.
	RenewFailures prometheus.Counter
	// Fences counts the times a worker killed its pods (SPEC N4).
	Fences prometheus.Counter
	// RunningPods is the pods whose reported phase is Running.
	RunningPods prometheus.Gauge
	// StatusWrites counts pod status writes that landed.
	StatusWrites prometheus.Counter
}

// NewWorker registers the worker's metrics on reg.
func NewWorker(reg prometheus.Registerer) *Worker {
	m := &Worker{
		RenewSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "heartbeat_renew_duration_seconds",
			Help: "Round trip of successful lease renewals.", Buckets: latencyBuckets,
		}),
		RenewFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "heartbeat_failures_total",
			Help: "Failed lease renewals and registrations.",
		}),
		Fences: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "fences_total",
			Help: "Times the worker killed its pods because it could not renew its lease.",
		}),
		RunningPods: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "running_pods",
			Help: "Pods whose reported phase is Running.",
		}),
		StatusWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "pod_status_writes_total",
			Help: "Pod status writes that landed in etcd.",
		}),
	}
	reg.MustRegister(m.RenewSeconds, m.RenewFailures, m.Fences, m.RunningPods, m.StatusWrites)
	return m
}

// HistogramQuantile estimates quantile q (0..1) of a histogram from its
// buckets, interpolating linearly inside the bucket as Prometheus'
// histogram_quantile does. It returns NaN for an empty histogram.
func HistogramQuantile(h prometheus.Histogram, q float64) float64 {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return math.NaN()
	}
	return DTOHistogramQuantile(m.GetHistogram(), q)
}

// DTOHistogramQuantile is HistogramQuantile of a histogram as exposed (read
// back from another process's /metrics, say).
func DTOHistogramQuantile(hist *dto.Histogram, q float64) float64 {
	total := hist.GetSampleCount()
	if total == 0 {
		return math.NaN()
	}
	bs := hist.GetBucket()
	sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for _, b := range bs {
		if float64(b.GetCumulativeCount()) >= rank {
			in := b.GetCumulativeCount() - below
			if in == 0 {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = b.GetUpperBound(), b.GetCumulativeCount()
	}
	return lower // beyond the last bucket: its bound is all we know
}
