package main

// drover get -w: list, then print every change as it arrives, the way
// kubectl get --watch does.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

// listWatch lists with the SDK, then watches from the list's revision: no
// change is missed between the two.
func listWatch[T client.Object](ctx context.Context, selector string,
	list func(context.Context, client.ListOptions) (*client.List[T], error),
	watch func(context.Context, client.ListOptions) (*client.Watcher[T], error),
) ([]object, func() (client.EventType, object, error), func(), error) {
	l, err := list(ctx, client.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, nil, nil, err
	}
	w, err := watch(ctx, client.ListOptions{LabelSelector: selector, ResourceVersion: l.ResourceVersion})
	if err != nil {
		return nil, nil, nil, err
	}
	objs := make([]object, len(l.Items))
	for i, o := range l.Items {
		objs[i] = o
	}
	next := func() (client.EventType, object, error) {
		ev, err := w.Recv()
		return ev.Type, ev.Object, err
	}
	return objs, next, w.Close, nil
}

func runGetWatch(ctx context.Context, env *cliEnv, c *client.Client, k kind, ns string, names []string, o getOptions) error {
	var (
		objs  []object
		next  func() (client.EventType, object, error)
		close func()
		err   error
	)
	switch k {
	case kindJob:
		objs, next, close, err = listWatch(ctx, o.selector, c.Jobs(ns).List, c.Jobs(ns).Watch)
	case kindPod:
		objs, next, close, err = listWatch(ctx, o.selector, c.Pods(ns).List, c.Pods(ns).Watch)
	case kindNode:
		objs, next, close, err = listWatch(ctx, o.selector, c.Nodes().List, c.Nodes().Watch)
	case kindEvent:
		objs, next, close, err = listWatch(ctx, o.selector, c.Events(ns).List, c.Events(ns).Watch)
	case kindCronJob:
		objs, next, close, err = listWatch(ctx, o.selector, c.CronJobs(ns).List, c.CronJobs(ns).Watch)
	case kindDaemonSet:
		objs, next, close, err = listWatch(ctx, o.selector, c.DaemonSets(ns).List, c.DaemonSets(ns).Watch)
	case kindCronJob:
		objs, next, close, err = listWatch(ctx, o.selector, c.CronJobs(ns).List, c.CronJobs(ns).Watch)
	case kindDaemonSet:
		objs, next, close, err = listWatch(ctx, o.selector, c.DaemonSets(ns).List, c.DaemonSets(ns).Watch)
	default:
		return fmt.Errorf("get -w does not support %s", k.plural)
	}
	if err != nil {
		return err
	}
	defer close()
	wanted := func(ob object) bool {
		if len(names) == 0 {
			return true
		}
		for _, n := range names {
			if ob.GetMetadata().GetName() == n {
				return true
			}
		}
		return false
	}
	var pods []*v1.Pod
	if k == kindNode && (o.output == "table" || o.output == "wide") {
		l, err := c.Pods("").List(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		pods = l.Items
	}
	// A table's rows are rendered with every row shown so far, so that a
	// new row lines up with the ones above it; only the new lines print.
	var shown []object
	printed := 0
	print := func(typ client.EventType, batch []object) error {
		if len(batch) == 0 {
			return nil
		}
		switch o.output {
		case "table", "wide":
			shown = append(shown, batch...)
			var buf bytes.Buffer
			if err := printTable(env, &buf, k, shown, tableOptions{wide: o.output == "wide", namespaces: ns == "" && k.namespaced, pods: pods}); err != nil {
				return err
			}
			lines := strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n")
			for i := printed; i < len(lines); i++ {
				l := strings.TrimRight(lines[i], " \n") + "\n"
				if o.watchEvents {
					ev := string(typ)
					if i == 0 {
						ev = "EVENT"
					}
					l = fmt.Sprintf("%-10s%s", ev, l)
				}
				fmt.Fprint(env.out, l)
			}
			printed = len(lines)
			return nil
		case "json", "yaml":
			for _, ob := range batch {
				if !o.watchEvents {
					if err := printObjects(env.out, k, []object{ob}, o.output, true); err != nil {
						return err
					}
					continue
				}
				b, err := objectJSON(withTypeMeta(k, ob))
				if err != nil {
					return err
				}
				doc, err := json.Marshal(struct {
					Type   string          `json:"type"`
					Object json.RawMessage `json:"object"`
				}{string(typ), b})
				if err != nil {
					return err
				}
				if err := printDoc(env.out, doc, o.output); err != nil {
					return err
				}
			}
			return nil
		}
		for _, ob := range batch {
			if o.watchEvents && o.output == "name" {
				fmt.Fprintf(env.out, "%s ", typ)
			}
			if err := printObjects(env.out, k, []object{ob}, o.output, true); err != nil {
				return err
			}
		}
		return nil
	}
	var initial []object
	for _, ob := range objs {
		if wanted(ob) {
			initial = append(initial, ob)
		}
	}
	if err := print(client.Added, initial); err != nil {
		return err
	}
	for {
		typ, ob, err := next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil // interrupted or timed out: the normal end of a watch
			}
			return err
		}
		if typ == client.Bookmark || !wanted(ob) {
			continue
		}
		if err := print(typ, []object{ob}); err != nil {
			return err
		}
	}
}
