// Command submit-and-logs submits a Job to Drover, streams the output of
// its pod while it runs, and exits with the Job's outcome: the SDK's
// equivalent of `drover apply -f job.yaml && drover logs -f job/NAME &&
// drover wait job/NAME --for=condition=Complete`.
//
//	drover dev &                       # a cluster on this machine
//	go run ./examples/sdk/submit-and-logs
//	go run ./examples/sdk/submit-and-logs -f examples/pi.yaml
//
// The API address is -server, else $DROVER_SERVER, else 127.0.0.1:7070.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/manifest"
)

func main() {
	server := flag.String("server", envOr("DROVER_SERVER", client.DefaultAddress), "Drover API address(es), comma-separated")
	file := flag.String("f", "", "a Job manifest (YAML or JSON); default: a small built-in Job")
	namespace := flag.String("n", "default", "namespace")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long to wait for the Job")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *server, *file, *namespace, *timeout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, server, file, ns string, timeout time.Duration) error {
	job, err := loadJob(file)
	if err != nil {
		return err
	}
	c, err := client.New(ctx, server)
	if err != nil {
		return err
	}
	defer c.Close()

	created, err := c.Jobs(ns).Create(ctx, job)
	if client.IsInvalid(err) {
		for _, fe := range client.FieldErrors(err) {
			fmt.Fprintf(os.Stderr, "invalid: %s: %s\n", fe.Field, fe.Detail)
		}
		return errors.New("the Job was refused")
	}
	if err != nil {
		return err
	}
	name := created.GetMetadata().GetName()
	fmt.Fprintf(os.Stderr, "job.batch/%s created\n", name)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// Find the Job's first pod (the pods carry the label job-name=NAME),
	// wait until a worker runs it, and follow its output until it exits.
	pod, err := firstPod(ctx, c, ns, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pod/%s on node %s:\n", pod.GetMetadata().GetName(), pod.GetSpec().GetNodeName())
	if err := c.PodLogs(ctx, ns, pod.GetMetadata().GetName(), client.LogOptions{Follow: true}, os.Stdout); err != nil {
		return err
	}

	done, err := c.WaitForJobCondition(ctx, ns, name, client.JobComplete, nil)
	if errors.Is(err, client.ErrConditionUnreachable) {
		return fmt.Errorf("job %s failed: %v", name, err)
	}
	if err != nil {
		return err
	}
	st := done.GetStatus()
	fmt.Fprintf(os.Stderr, "job.batch/%s complete: %d succeeded, %d failed\n", name, st.GetSucceeded(), st.GetFailed())
	return nil
}

// firstPod watches the Job's pods until one has started on a node.
func firstPod(ctx context.Context, c *client.Client, ns, job string) (*v1.Pod, error) {
	w, err := c.Pods(ns).Watch(ctx, client.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	for {
		ev, err := w.Recv()
		if err != nil {
			return nil, err
		}
		switch ev.Object.GetStatus().GetPhase() {
		case "Running", "Succeeded", "Failed":
			return ev.Object, nil
		}
	}
}

// loadJob reads the manifest, or returns the built-in Job.
func loadJob(file string) (*v1.Job, error) {
	if file == "" {
		return &v1.Job{
			Metadata: &v1.ObjectMeta{GenerateName: "hello-"},
			Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
				RestartPolicy: "Never",
				Containers: []*v1.Container{{
					Name: "hello", Image: "busybox",
					Command: []string{"sh", "-c", "for i in 1 2 3; do echo hello $i from $HOSTNAME; sleep 1; done"},
				}},
			}}},
		}, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%s: want one Job, found %d objects", file, len(objs))
	}
	job, ok := objs[0].(*v1.Job)
	if !ok {
		return nil, fmt.Errorf("%s: not a Job", file)
	}
	return job, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
