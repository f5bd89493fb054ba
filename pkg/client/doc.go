// Package client is Drover's Go SDK: typed access to the DroverService gRPC
// API that every controller replica serves (SPEC I1). The drover CLI uses
// nothing else, so whatever the CLI does a program can do too.
//
// # Quick start
//
// Start a cluster on this machine with `drover dev`, then:
//
//	ctx := context.Background()
//	c, err := client.New(ctx, client.DefaultAddress) // "127.0.0.1:7070"
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer c.Close()
//
//	job, err := c.Jobs("default").Create(ctx, &v1.Job{
//		Metadata: &v1.ObjectMeta{Name: "pi"},
//		Spec: &v1.JobSpec{Template: &v1.PodTemplateSpec{Spec: &v1.PodSpec{
//			RestartPolicy: "Never",
//			Containers: []*v1.Container{{Name: "pi", Image: "perl:5.34.0",
//				Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(100)"}}},
//		}}},
//	})
//	job, err = c.WaitForJobCondition(ctx, "default", "pi", client.JobComplete, nil)
//	pods, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "job-name=pi"})
//	err = c.PodLogs(ctx, "default", pods.Items[0].GetMetadata().GetName(), client.LogOptions{}, os.Stdout)
//
// The objects are the generated protobuf types of package
// github.com/drover-dev/drover/pkg/api/drover/v1, shaped like Kubernetes'
// (metadata, spec, status). A manifest in YAML or JSON becomes one with
// manifest.Parse.
//
// The programs in examples/sdk (submit-and-logs, watch-jobs) are complete
// versions of the flows below.
//
// # Connecting
//
// New takes "host:port" or a comma-separated list of controller replicas
// ("10.0.0.5:7070,10.0.0.6:7070"); every replica serves the whole API. The
// client uses one address at a time and moves to the next when it fails.
// A Client is safe for concurrent use; make one per program and Close it at
// the end. Calls take a context: cancelling it abandons the call.
//
// # Objects
//
// Each kind has a small client: [Client.Jobs], [Client.CronJobs],
// [Client.DaemonSets], [Client.Pods] (of a namespace), [Client.Nodes]
// (cluster-wide) and [Client.Events]. They have the verbs of client-go:
// Create, Get, List, Update, Delete and Watch, where the kind allows them.
// A namespace of "" means every namespace for List and Watch, and "default"
// for single-object calls.
//
// Update is optimistic: when the object's metadata.resourceVersion is set,
// the update applies only if nobody changed the object since it was read,
// and otherwise fails with ErrConflict; Get it again, change it again,
// retry (see the IsConflict example, or let [RetryOnConflict] loop). Delete of a Job takes a propagation
// policy for its pods (SPEC J12).
//
// # Lists
//
// [ListOptions] filters by label selector in kubectl's syntax
// ("app=web,tier!=db", "env in (a,b)", "!canary"). With a Limit, List
// returns one page and a Continue token for the next; every page of one
// list is read at the same store revision, so a list in pages is one
// consistent snapshot. Without a Limit, List follows the tokens itself.
//
// # Watches
//
// Watch streams changes ([WatchEvent]: Added, Modified, Deleted) from a
// resource version (exclusive), or, without one, the current objects as
// Added and then every change. Use List then Watch from the list's
// ResourceVersion to miss nothing between the two. A [Watcher] remembers the
// revision of the last change it returned: when the stream breaks (the
// controller replica restarted or stopped and another serves) Recv opens it
// again from there, on any address, with backoff, and the caller sees every
// change exactly once, in order. When that revision has been compacted away
// (the watcher was disconnected for longer than the store keeps history),
// Recv fails with ErrGone: List again and Watch from the new list. A caller
// that reads slower than changes come makes the server end the stream once
// it is more than the server's watch buffer behind (ResourceExhausted,
// reason WATCH_TOO_FAR_BEHIND); Recv then opens it again at once from the
// last change returned, so that too costs no change.
//
// # Errors
//
// Errors from the API are [*APIError] values that keep the gRPC status
// (status.Code and status.FromError work on them). Test them with
// [IsNotFound], [IsAlreadyExists], [IsInvalid], [IsConflict], [IsGone] and
// [IsUnavailable], or errors.Is against [ErrNotFound] and its siblings.
// An invalid object is refused with a google.rpc.BadRequest detail that
// names every bad field; [FieldErrors] returns them as a
// validation.ErrorList ("spec.completions: must be >= 0").
//
// # Retries
//
// Calls that are safe to repeat (Get, List, Delete, Leader, opening a Watch
// or a log stream) are retried with exponential backoff while the API
// answers Unavailable (no replica reachable, no etcd leader), up to a
// bounded number of attempts ([WithRetry]); Create and Update are never
// retried, because on Unavailable they may or may not have happened.
//
// # Waiting and logs
//
// [Client.WaitForJobCondition] blocks until a Job has a condition
// (JobComplete, JobFailed ...), reporting each change to a progress
// function, and fails at once with ErrConditionUnreachable when the Job
// finished the other way. [Client.PodLogs] copies a pod's output, following
// it with LogOptions.Follow.
//
// # Testing
//
// Package clienttest runs an in-memory fake of the API on 127.0.0.1 for
// tests of code that uses this package; the examples here run against it.
package client
