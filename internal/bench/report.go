package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as a two-column table for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	if r.EtcdMode != "" {
		row("etcd", "%s", r.EtcdMode)
	}
	row("nodes", "%d hollow", r.Nodes)
	row("jobs", "%d (completions %d in all, parallelism %d each, pod duration %s)", r.Jobs, r.Completions, r.Parallelism, r.PodDuration)
	if r.Ceiling.Puts > 0 {
		row("storage ceiling", "%.0f puts/s (%d puts of %d B, %d clients, %.2fs)", r.Ceiling.PutsPerSecond, r.Ceiling.Puts, r.Ceiling.ValueBytes, r.Ceiling.Clients, r.Ceiling.Seconds)
	}
	row("wall time", "%.2fs", r.WallSeconds)
	row("pods", "%d succeeded, %d failed, %d pod objects", r.Succeeded, r.Failed, r.Pods)
	row("completed pods/s", "%.0f", r.PodsPerSecond)
	row("etcd writes/pod", "%.2f revisions (%d), %.2f keys (%d)", r.RevisionsPerPod, r.Revisions, r.KeyWritesPerPod, r.KeyWrites)
	row("etcd write rate", "%.0f revisions/s", r.WriteRate)
	if r.Ceiling.Puts > 0 {
		row("ratio to ceiling", "%.2f", r.CeilingRatio)
	}
	row("pod start p50/p99", "%.0f ms / %.0f ms", r.StartP50Ms, r.StartP99Ms)
	row("heartbeat renew p99", "%s (%d failures, %d fences), nodes in this process", renewals(r.RenewP99Ms, r.Renewals), r.RenewFailures, r.Fences)
	if pr := r.Probe; pr != nil {
		row("probe renew p99", "%s (%d failures), %d nodes in a process of their own", renewals(pr.RenewP99Ms, pr.Renewals), pr.RenewFailures, pr.Nodes)
	}
	row("nodes lost", "%d NotReady, %d pods disrupted", r.NodesNotReady, r.PodsDisrupted)
	row("controller", "%s", usage(r.Controller))
	if r.Etcd.How != "" {
		row("etcd process", "%s", usage(r.Etcd))
	}
	row("bench process", "%s", usage(r.Bench))
	row("goroutine wait p99", "%.1f ms runnable before running, in this process (/sched/latencies; GOMAXPROCS %d)", r.SchedP99Ms, r.GoMaxProcs)
	if pr := r.Probe; pr != nil {
		row("probe process", "%s", usage(pr.Usage))
	}
	return tw.Flush()
}

func renewals(p99 float64, n int64) string {
	if n == 0 {
		return "no renewals during the run (shorter than the heartbeat interval)"
	}
	return fmt.Sprintf("%.1f ms of %d renewals during the run", p99, n)
}

func usage(u Usage) string {
	if u.CPUSeconds == 0 && u.PeakRSSBytes == 0 {
		return u.How
	}
	return fmt.Sprintf("%.1f CPU s, peak RSS %.0f MiB (%s)", u.CPUSeconds, float64(u.PeakRSSBytes)/(1<<20), u.How)
}
