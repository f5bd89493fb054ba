package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

func init() { rootCmd.AddCommand(newLogsCmd(stdEnv)) }

type logsOptions struct {
	namespace string
	container string
	follow    bool
	tail      int64
	prefix    bool
}

func newLogsCmd(env *cliEnv) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs (POD | pod/POD | job/JOB)",
		Short: "Print the output of a pod, or of every pod of a Job",
		Long: `Print a pod's output (stdout and stderr, as its worker kept it), also after
the pod finished. job/NAME prints the output of every pod of the Job (label
job-name=NAME), each line prefixed with [POD] when there are several; with -f
they are followed at once. A pod whose log cannot be read (lost with its
node, not scheduled yet) gets a line "# pod NAME: log not available: REASON"
on stderr and the others are still printed; the command fails only when no
pod's log could be read.

Workers cap each container's log: they rotate it at --container-log-max-size
and keep --container-log-max-files files (by default 10Mi x 5, as the
kubelet), dropping the oldest output. logs prints what is kept, oldest first
(the first line may be cut where a file was dropped), and -f goes on across
rotations.`,
		Example: `  drover logs pi-7xk2q
  drover logs job/parallel --tail 1
  drover logs -f job/pi`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("tail") {
				o.tail = 0
			}
			return userError(runLogs(cmd.Context(), env, args[0], o))
		},
	}
	addNamespaceFlag(cmd, &o.namespace)
	cmd.Flags().StringVarP(&o.container, "container", "c", "", "container name (default: the pod's only container)")
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep streaming until the containers exit")
	cmd.Flags().Int64Var(&o.tail, "tail", -1, "lines from the end to show (default: all)")
	cmd.Flags().BoolVar(&o.prefix, "prefix", false, "prefix each line with [POD] even for a single pod")
	return cmd
}

func runLogs(ctx context.Context, env *cliEnv, target string, o logsOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	kindName, name, ok := strings.Cut(target, "/")
	if !ok {
		kindName, name = "pod", target
	}
	k, err := parseKind(kindName)
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("a name is required")
	}
	c, err := env.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	opts := client.LogOptions{Container: o.container, Follow: o.follow, TailLines: o.tail}
	var pods []string
	switch k {
	case kindPod:
		pods = []string{name}
	case kindJob:
		if _, err := c.Jobs(o.namespace).Get(ctx, name); err != nil {
			return notFound(k, name, err)
		}
		l, err := c.Pods(o.namespace).List(ctx, client.ListOptions{LabelSelector: "job-name=" + name})
		if err != nil {
			return err
		}
		sort.Slice(l.Items, func(i, j int) bool { return podOrder(l.Items[i], l.Items[j]) })
		for _, p := range l.Items {
			pods = append(pods, p.GetMetadata().GetName())
		}
		if len(pods) == 0 {
			return fmt.Errorf("job %q has no pods", name)
		}
	default:
		return fmt.Errorf("logs are kept for pods and jobs, not %s", k.plural)
	}
	prefix := o.prefix || len(pods) > 1
	var mu sync.Mutex // one line at a time on env.out
	stream := func(pod string) error {
		var w io.Writer = env.out
		var pw *prefixWriter
		if prefix {
			pw = &prefixWriter{prefix: "[" + pod + "] ", out: env.out, mu: &mu}
			w = pw
		}
		err := c.PodLogs(ctx, o.namespace, pod, opts, w)
		if pw != nil {
			pw.flush()
		}
		if k == kindJob && logUnavailable(err) {
			// job/NAME: a pod whose log is gone (lost with its node, not
			// scheduled yet, deleted meanwhile) gets a note on stderr, at
			// once, and the other pods' logs are still printed.
			mu.Lock()
			fmt.Fprintf(env.errOut, "# pod %s: log not available: %v\n", pod, err)
			mu.Unlock()
		}
		return err
	}
	errs := make([]error, len(pods))
	if !o.follow {
		for i, p := range pods {
			if errs[i] = stream(p); errs[i] != nil && (k == kindPod || !logUnavailable(errs[i])) {
				break
			}
		}
	} else {
		var wg sync.WaitGroup
		for i, p := range pods {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = stream(p)
			}()
		}
		wg.Wait()
	}
	if k == kindPod {
		return podLogError(ctx, c, o.namespace, name, errs[0])
	}
	// The command fails only when no pod's log could be read.
	shown := 0
	for _, err := range errs {
		switch {
		case err == nil:
			shown++
		case !logUnavailable(err):
			return err
		}
	}
	if shown == 0 {
		return fmt.Errorf("job %q: no pod's log is available (%d pods)", name, len(pods))
	}
	return nil
}

// logUnavailable reports whether err says that one pod's log cannot be
// read (the pod or its containers are gone, its node is unreachable, it is
// not scheduled yet), as opposed to a failure of the whole command.
func logUnavailable(err error) bool {
	switch status.Code(err) {
	case codes.NotFound, codes.Unavailable, codes.FailedPrecondition:
		return true
	}
	return false
}

// podLogError explains a failed `drover logs POD`: NotFound means the pod
// does not exist only if it cannot be read either; otherwise its log is
// what is gone.
func podLogError(ctx context.Context, c *client.Client, namespace, pod string, err error) error {
	if !client.IsNotFound(err) {
		return err
	}
	if _, gerr := c.Pods(namespace).Get(ctx, pod); client.IsNotFound(gerr) {
		return fmt.Errorf("pods %q not found", pod)
	}
	return fmt.Errorf("pod %s: log not available: %w", pod, err)
}

// podOrder sorts a Job's pods by creation, then name.
func podOrder(a, b *v1.Pod) bool {
	ta, tb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.GetMetadata().GetName() < b.GetMetadata().GetName()
}

// prefixWriter writes whole lines, each with a prefix, under a shared lock,
// so that the output of pods followed at once does not interleave mid-line.
type prefixWriter struct {
	prefix string
	out    io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	var lines []byte
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, w.prefix...)
		lines = append(lines, w.buf[:i+1]...)
		w.buf = w.buf[i+1:]
	}
	if len(lines) > 0 {
		w.mu.Lock()
		_, err := w.out.Write(lines)
		w.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes a last line that has no newline.
func (w *prefixWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	w.mu.Lock()
	fmt.Fprintf(w.out, "%s%s\n", w.prefix, w.buf)
	w.mu.Unlock()
	w.buf = nil
}
