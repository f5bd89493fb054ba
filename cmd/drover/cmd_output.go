package main

// Shared plumbing of the client commands (apply, get, describe, logs,
// delete, wait): the --server flag, the connection, the object kinds, and
// the output formats (tables, json, yaml, name).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"sigs.k8s.io/yaml"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
	"github.com/drover-dev/drover/pkg/manifest"
)

// cliEnv is what the client commands read and write; tests replace it.
type cliEnv struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	// server is the --server flag's value.
	server *string
	// now is the clock behind AGE columns.
	now func() time.Time
	// loc is the zone timestamps are shown in.
	loc *time.Location
	// isTerminal reports whether w is a terminal (wait's progress line).
	isTerminal func(w io.Writer) bool
	// dial are extra client options (tests shorten retries).
	dial []client.Option
	// env reads an environment variable (nil: os.Getenv).
	env func(string) string
	// configFile is the --config flag's value.
	configFile string
	// namespace is the namespace set by DROVER_NAMESPACE or the config
	// file, "" when neither sets one (config.go).
	namespace string
}

var stdEnv = &cliEnv{
	in:         os.Stdin,
	out:        os.Stdout,
	errOut:     os.Stderr,
	server:     new(string),
	now:        time.Now,
	loc:        time.Local,
	isTerminal: isTerminal,
}

func init() {
	addServerFlag(rootCmd, stdEnv)
}

// addServerFlag defines --server and --config on root, and resolves them
// (with -n) from the environment and the config file before every command
// (config.go).
func addServerFlag(root *cobra.Command, env *cliEnv) {
	root.PersistentFlags().StringVar(env.server, "server", "",
		"address of the Drover API, host:port or a comma-separated list of replicas (default: env DROVER_SERVER, the config file's server, else "+client.DefaultAddress+")")
	root.PersistentFlags().StringVar(&env.configFile, "config", "",
		"client config file with server: and namespace: (default $XDG_CONFIG_HOME/drover/config.yaml or ~/.config/drover/config.yaml)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return env.resolveConfig(cmd) }
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// connect opens the SDK client the commands use.
func (e *cliEnv) connect(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, *e.server, e.dial...)
}

// addNamespaceFlag defines -n/--namespace on cmd.
func addNamespaceFlag(cmd *cobra.Command, ns *string) {
	cmd.Flags().StringVarP(ns, "namespace", "n", "default", "namespace of the objects (without -n: $DROVER_NAMESPACE, then the config file's namespace:)")
}

// kind is a kind of object the client commands know.
type kind struct {
	// name is the singular lower-case name ("job").
	name string
	// qualified is how kubectl names it in messages ("job.batch").
	qualified string
	// plural is the plural, for messages ("jobs.batch").
	plural     string
	namespaced bool
	apiVersion string
	kindName   string
}

var (
	kindJob   = kind{"job", "job.batch", "jobs.batch", true, "batch/v1", "Job"}
	kindPod   = kind{"pod", "pod", "pods", true, "v1", "Pod"}
	kindNode  = kind{"node", "node", "nodes", false, "v1", "Node"}
	kindEvent = kind{"event", "event", "events", true, "v1", "Event"}
	// CronJobs and DaemonSets: cmd_cronjob.go and cmd_daemonset.go.
	kindCronJob   = kind{"cronjob", "cronjob.batch", "cronjobs.batch", true, "batch/v1", "CronJob"}
	kindDaemonSet = kind{"daemonset", "daemonset.apps", "daemonsets.apps", true, "apps/v1", "DaemonSet"}
)

// parseKind reads a kind as kubectl accepts it (jobs, job, job.batch, po ...).
func parseKind(s string) (kind, error) {
	switch strings.ToLower(s) {
	case "jobs", "job", "job.batch", "jobs.batch":
		return kindJob, nil
	case "pods", "pod", "po":
		return kindPod, nil
	case "nodes", "node", "no":
		return kindNode, nil
	case "events", "event", "ev":
		return kindEvent, nil
	case "cronjobs", "cronjob", "cj", "cronjob.batch", "cronjobs.batch":
		return kindCronJob, nil
	case "daemonsets", "daemonset", "ds", "daemonset.apps", "daemonsets.apps":
		return kindDaemonSet, nil
	}
	return kind{}, fmt.Errorf("unknown resource type %q: use jobs, pods, nodes, events, cronjobs or daemonsets", s)
}

// splitTarget reads "kind/name" or ("kind", "name").
func splitTarget(args []string) (kind, string, error) {
	var k, name string
	switch {
	case len(args) == 1 && strings.Contains(args[0], "/"):
		k, name, _ = strings.Cut(args[0], "/")
	case len(args) == 2:
		k, name = args[0], args[1]
	default:
		return kind{}, "", fmt.Errorf("expected KIND/NAME or KIND NAME")
	}
	kd, err := parseKind(k)
	if err != nil {
		return kind{}, "", err
	}
	if name == "" {
		return kind{}, "", fmt.Errorf("a name is required")
	}
	return kd, name, nil
}

// object is any API object.
type object interface {
	proto.Message
	GetMetadata() *v1.ObjectMeta
}

// withTypeMeta returns a copy of o with apiVersion and kind filled in, as
// printed by -o json|yaml.
func withTypeMeta(k kind, o object) object {
	o = proto.Clone(o).(object)
	m := o.ProtoReflect()
	fields := m.Descriptor().Fields()
	if fd := fields.ByName("api_version"); fd != nil && m.Get(fd).String() == "" {
		m.Set(fd, protoreflect.ValueOfString(k.apiVersion))
	}
	if fd := fields.ByName("kind"); fd != nil && m.Get(fd).String() == "" {
		m.Set(fd, protoreflect.ValueOfString(k.kindName))
	}
	return o
}

// objectJSON renders o as protojson (camelCase), compacted so that the
// output is stable.
func objectJSON(o object) (json.RawMessage, error) {
	b, err := protojson.Marshal(o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// printObjects writes objs in format ("json", "yaml", "name" or
// "jsonpath=TEMPLATE", jsonpath.go). single
// prints one object alone; otherwise a List with an items key.
func printObjects(w io.Writer, k kind, objs []object, format string, single bool) error {
	if format == "name" {
		for _, o := range objs {
			fmt.Fprintf(w, "%s/%s\n", k.qualified, o.GetMetadata().GetName())
		}
		return nil
	}
	items := make([]json.RawMessage, 0, len(objs))
	for _, o := range objs {
		b, err := objectJSON(withTypeMeta(k, o))
		if err != nil {
			return err
		}
		items = append(items, b)
	}
	var doc []byte
	if single && len(items) == 1 {
		doc = items[0]
	} else {
		var err error
		doc, err = json.Marshal(struct {
			APIVersion string            `json:"apiVersion"`
			Items      []json.RawMessage `json:"items"`
			Kind       string            `json:"kind"`
			Metadata   map[string]string `json:"metadata"`
		}{"v1", items, "List", map[string]string{"resourceVersion": ""}})
		if err != nil {
			return err
		}
	}
	return printDoc(w, doc, format)
}

// printDoc writes a JSON document as json (indented), yaml or a jsonpath
// template's output.
func printDoc(w io.Writer, doc []byte, format string) error {
	switch {
	case strings.HasPrefix(format, "jsonpath="):
		t, err := parseJSONPath(strings.TrimPrefix(format, "jsonpath="))
		if err != nil {
			return err
		}
		return t.execute(w, doc)
	case format == "json":
		var buf bytes.Buffer
		if err := json.Indent(&buf, doc, "", "    "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	case format == "yaml":
		y, err := yaml.JSONToYAML(doc)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	return fmt.Errorf("unknown output format %q: use table, wide, json, yaml, name or jsonpath=TEMPLATE", format)
}

// checkOutput validates an -o value, parsing a jsonpath template.
func checkOutput(format string) error {
	switch format {
	case "table", "wide", "json", "yaml", "name":
		return nil
	}
	if t, ok := strings.CutPrefix(format, "jsonpath="); ok {
		_, err := parseJSONPath(t)
		return err
	}
	return fmt.Errorf("unknown output format %q: use table, wide, json, yaml, name or jsonpath=TEMPLATE", format)
}

// newTable returns a tabwriter aligned like kubectl's tables.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
}

// humanDuration renders an age the way kubectl does: "5s", "3m20s", "2d".
func humanDuration(d time.Duration) string {
	if seconds := int(d.Seconds()); seconds < -1 {
		return "<invalid>"
	} else if seconds < 0 {
		return "0s"
	} else if seconds < 60*2 {
		return fmt.Sprintf("%ds", seconds)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		s := int(d/time.Second) % 60
		if s == 0 {
			return fmt.Sprintf("%dm", minutes)
		}
		return fmt.Sprintf("%dm%ds", minutes, s)
	} else if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	if hours < 8 {
		m := int(d/time.Minute) % 60
		if m == 0 {
			return fmt.Sprintf("%dh", hours)
		}
		return fmt.Sprintf("%dh%dm", hours, m)
	} else if hours < 48 {
		return fmt.Sprintf("%dh", hours)
	} else if hours < 24*8 {
		h := hours % 24
		if h == 0 {
			return fmt.Sprintf("%dd", hours/24)
		}
		return fmt.Sprintf("%dd%dh", hours/24, h)
	} else if hours < 24*365*2 {
		return fmt.Sprintf("%dd", hours/24)
	} else if hours < 24*365*8 {
		dy := (hours / 24) % 365
		if dy == 0 {
			return fmt.Sprintf("%dy", hours/24/365)
		}
		return fmt.Sprintf("%dy%dd", hours/24/365, dy)
	}
	return fmt.Sprintf("%dy", hours/24/365)
}

// age renders the time since t, or "<unknown>".
func (e *cliEnv) age(t interface{ AsTime() time.Time }, valid bool) string {
	if !valid {
		return "<unknown>"
	}
	return humanDuration(e.now().Sub(t.AsTime()))
}

// cliError is an error of several lines; main prefixes the first with
// "error: ", and Error prefixes the others the same way.
type cliError struct{ lines []string }

func (e *cliError) Error() string { return strings.Join(e.lines, "\nerror: ") }

// userError turns field errors into one "field: detail" line each.
func userError(err error) error {
	if err == nil {
		return nil
	}
	var perr *manifest.Error
	if errors.As(err, &perr) {
		return &cliError{lines: perr.Lines()}
	}
	if fe := client.FieldErrors(err); len(fe) > 1 {
		lines := make([]string, len(fe))
		for i, e := range fe {
			lines[i] = e.Error()
		}
		return &cliError{lines: lines}
	}
	return err
}
