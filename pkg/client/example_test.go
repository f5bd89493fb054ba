package client_test

import (
	"context"
	"fmt"
	"log"

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
