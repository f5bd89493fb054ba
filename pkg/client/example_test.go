package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/client/clienttest"
)

// Create a Job, then read it back. (The example runs against the in-memory
// fake; a real program passes the controller's address, such as
// client.DefaultAddress.)
func Example() {
	srv, err := clienttest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()

	ctx := context.Background()
	c, err := client.New(ctx, srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Jobs("default").Create(ctx, &v1.Job{
		Metadata: &v1.ObjectMeta{Name: "pi"},
		Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
			RestartPolicy: "Never",
			Containers:    []*v1.Container{{Name: "pi", Image: "perl:5.34.0", Command: []string{"perl", "-e", "print 3.14"}}},
		}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	job, err := c.Jobs("default").Get(ctx, "pi")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.GetMetadata().GetName(), job.GetSpec().GetCompletions(), job.GetSpec().GetBackoffLimit())

	_, err = c.Jobs("default").Get(ctx, "e")
	fmt.Println(client.IsNotFound(err))
	// Output:
	// pi 1 6
	// true
}

// An invalid Job is refused with the path of every bad field.
func ExampleFieldErrors() {
	srv, err := clienttest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	c, err := client.New(ctx, srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	completions := int32(-1)
	_, err = c.Jobs("default").Create(ctx, &v1.Job{
		Metadata: &v1.ObjectMeta{Name: "pi"},
		Spec: &v1.JobSpec{Completions: &completions, Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
			RestartPolicy: "Always",
			Containers:    []*v1.Container{{Name: "pi", Image: "perl"}},
		}}},
	})
	fmt.Println(client.IsInvalid(err))
	for _, fe := range client.FieldErrors(err) {
		fmt.Printf("%s: %s\n", fe.Field, fe.Detail)
	}
	// Output:
	// true
	// spec.completions: must be >= 0
	// spec.template.spec.restartPolicy: unsupported value "Always": must be Never or OnFailure
}

// startFake starts the in-memory API the examples run against, and a
// client of it.
func startFake() (*clienttest.Server, *client.Client) {
	srv, err := clienttest.Start()
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(context.Background(), srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	return srv, c
}

// sleepJob is a small valid Job.
func sleepJob(name string, labels map[string]string) *v1.Job {
	return &v1.Job{
		Metadata: &v1.ObjectMeta{Name: name, Labels: labels},
		Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
			RestartPolicy: "Never",
			Containers:    []*v1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "1"}}},
		}}},
	}
}

// Watch every Job: first the current ones as ADDED, then each change as it
// happens. A Watcher resumes by itself after a disconnect, so this loop
// only ends when ctx does (or the history it needs was compacted).
func ExampleJobClient_Watch() {
	srv, c := startFake()
	defer srv.Stop()
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Jobs("default").Create(ctx, sleepJob("a", nil)); err != nil {
		log.Fatal(err)
	}

	w, err := c.Jobs("").Watch(ctx, client.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	// The fake stands in for the controller's writes.
	next := []func(){
		func() { srv.ModifyJob("default", "a", func(j *v1.Job) { j.Status = &v1.JobStatus{Active: 1} }) },
		func() { srv.DeleteJobNow("default", "a") },
	}
	for i := 0; i < 3; i++ {
		ev, err := w.Recv()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Type, ev.Object.GetMetadata().GetName(), "active:", ev.Object.GetStatus().GetActive())
		if i < len(next) {
			next[i]()
		}
	}
	// Output:
	// ADDED a active: 0
	// MODIFIED a active: 1
	// DELETED a active: 1
}

// Wait until a Job completes, as `drover wait --for=condition=Complete`
// does. The progress function sees every change on the way.
func ExampleClient_WaitForJobCondition() {
	srv, c := startFake()
	defer srv.Stop()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Jobs("default").Create(ctx, sleepJob("pi", nil)); err != nil {
		log.Fatal(err)
	}
	go func() { // what the controller would do
		srv.ModifyJob("default", "pi", func(j *v1.Job) { j.Status = &v1.JobStatus{Active: 1} })
		srv.ModifyJob("default", "pi", func(j *v1.Job) {
			j.Status = &v1.JobStatus{Succeeded: 1, Conditions: []*v1.JobCondition{{Type: client.JobComplete, Status: "True"}}}
		})
	}()

	job, err := c.WaitForJobCondition(ctx, "default", "pi", client.JobComplete, func(j *v1.Job) {
		// e.g. print j.GetStatus().GetActive() and GetSucceeded()
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("complete, succeeded:", job.GetStatus().GetSucceeded())

	// Waiting for Failed on a complete Job fails at once.
	_, err = c.WaitForJobCondition(ctx, "default", "pi", client.JobFailed, nil)
	fmt.Println(errors.Is(err, client.ErrConditionUnreachable), err)
	// Output:
	// complete, succeeded: 1
	// true job "pi" is Complete
}

// Copy a pod's output to stdout; LogOptions.Follow keeps streaming until the
// container exits, TailLines starts near the end.
func ExampleClient_PodLogs() {
	srv, c := startFake()
	defer srv.Stop()
	defer c.Close()
	srv.PutPod(&v1.Pod{Metadata: &v1.ObjectMeta{Name: "pi-x7k2q", Namespace: "default"}})
	srv.SetLogs("default", "pi-x7k2q", "", "3.14159\n2.71828\n1.41421\n")

	ctx := context.Background()
	if err := c.PodLogs(ctx, "default", "pi-x7k2q", client.LogOptions{TailLines: 2}, os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 2.71828
	// 1.41421
}

// Update is optimistic: with metadata.resourceVersion set it applies only
// to the version that was read. On a conflict, read again and retry.
func ExampleIsConflict() {
	srv, c := startFake()
	defer srv.Stop()
	defer c.Close()
	ctx := context.Background()
	jobs := c.Jobs("default")
	if _, err := jobs.Create(ctx, sleepJob("pi", nil)); err != nil {
		log.Fatal(err)
	}
	mine, _ := jobs.Get(ctx, "pi")
	theirs, _ := jobs.Get(ctx, "pi")
	theirs.Metadata.Labels = map[string]string{"owner": "them"}
	if _, err := jobs.Update(ctx, theirs); err != nil {
		log.Fatal(err)
	}

	for {
		mine.Metadata.Labels = map[string]string{"owner": "me"}
		_, err := jobs.Update(ctx, mine)
		if client.IsConflict(err) {
			fmt.Println("conflict: reading again")
			if mine, err = jobs.Get(ctx, "pi"); err != nil {
				log.Fatal(err)
			}
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		break
	}
	j, _ := jobs.Get(ctx, "pi")
	fmt.Println("owner:", j.GetMetadata().GetLabels()["owner"])
	// Output:
	// conflict: reading again
	// owner: me
}

// List with a label selector, and in pages: every page is read at the
// first page's revision, so the pages are one snapshot.
func ExampleJobClient_List() {
	srv, c := startFake()
	defer srv.Stop()
	defer c.Close()
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		tier := "batch"
		if name == "c" {
			tier = "web"
		}
		if _, err := c.Jobs("default").Create(ctx, sleepJob(name, map[string]string{"tier": tier})); err != nil {
			log.Fatal(err)
		}
	}

	web, err := c.Jobs("default").List(ctx, client.ListOptions{LabelSelector: "tier=web"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("web:", len(web.Items), web.Items[0].GetMetadata().GetName())

	opts := client.ListOptions{LabelSelector: "tier!=web", Limit: 2}
	for page := 1; ; page++ {
		l, err := c.Jobs("default").List(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		var names []string
		for _, j := range l.Items {
			names = append(names, j.GetMetadata().GetName())
		}
		fmt.Println("page", page, names)
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	// Output:
	// web: 1 c
	// page 1 [a b]
	// page 2 [d e]
}

// Dial every controller replica: the client uses one address at a time and
// moves on when it fails, retrying the calls that are safe to repeat.
func ExampleNew() {
	a, err := clienttest.Start()
	if err != nil {
		log.Fatal(err)
	}
	b, err := clienttest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Stop()

	ctx := context.Background()
	c, err := client.New(ctx, a.Addr+","+b.Addr) // e.g. "10.0.0.5:7070,10.0.0.6:7070"
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Real replicas share one store; these two fakes do not, so only the
	// second one has the Job, and finding it shows the client moved on.
	b.PutJob(sleepJob("pi", nil))

	a.Stop() // the replica in use goes away
	job, err := c.Jobs("default").Get(ctx, "pi")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.GetMetadata().GetName())
	// Output:
	// pi
}
