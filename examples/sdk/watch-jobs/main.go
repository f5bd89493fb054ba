// Command watch-jobs prints every change to every Job in the cluster, one
// line each, until interrupted: the SDK's equivalent of
// `drover get jobs -A -w --output-watch-events`.
//
//	go run ./examples/sdk/watch-jobs
//	go run ./examples/sdk/watch-jobs -l app=etl
//
// The watch survives controller restarts and failovers by itself: the
// Watcher resumes from the last change it returned. It only ends when the
// history it needs was compacted (then it lists and watches again) or on
// Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

func main() {
	server := flag.String("server", envOr("DROVER_SERVER", client.DefaultAddress), "Drover API address(es), comma-separated")
	selector := flag.String("l", "", "label selector, such as app=etl")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := client.New(ctx, *server)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := watchJobs(ctx, c, *selector); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

func watchJobs(ctx context.Context, c *client.Client, selector string) error {
	for {
		// No ResourceVersion: the current Jobs first (ADDED), then changes.
		w, err := c.Jobs("").Watch(ctx, client.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		for {
			ev, err := w.Recv()
			if client.IsGone(err) {
				fmt.Fprintln(os.Stderr, "history compacted: listing again")
				break
			}
			if err != nil {
				w.Close()
				return err
			}
			printEvent(ev)
		}
		w.Close()
	}
}

func printEvent(ev client.WatchEvent[*v1.Job]) {
	j := ev.Object
	st := j.GetStatus()
	state := "Running"
	for _, c := range []string{client.JobComplete, client.JobFailed, client.JobSuspended} {
		if client.HasJobCondition(j, c) {
			state = c
		}
	}
	fmt.Printf("%s %-8s %s/%s %s active=%d succeeded=%d failed=%d rv=%s\n",
		time.Now().Format("15:04:05"), ev.Type, j.GetMetadata().GetNamespace(), j.GetMetadata().GetName(),
		state, st.GetActive(), st.GetSucceeded(), st.GetFailed(), j.GetMetadata().GetResourceVersion())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
