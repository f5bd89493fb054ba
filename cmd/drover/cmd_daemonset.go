package main

// DaemonSets in the CLI: the get table and describe (SPEC D1-D3).

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/client"
)

var daemonSetHeader = []string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"}

func nodeSelectorColumn(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	return strings.Join(mapString(m), ",")
}

func (e *cliEnv) daemonSetRow(ds *v1.DaemonSet, wide bool) []string {
	md, s, st := ds.GetMetadata(), ds.GetSpec(), ds.GetStatus()
	row := []string{md.GetName(), fmt.Sprint(st.GetDesiredNumberScheduled()), fmt.Sprint(st.GetCurrentNumberScheduled()),
		fmt.Sprint(st.GetNumberReady()), fmt.Sprint(st.GetUpdatedNumberScheduled()), fmt.Sprint(st.GetNumberAvailable()),
		nodeSelectorColumn(s.GetTemplate().GetSpec().GetNodeSelector()), e.age(md.GetCreationTimestamp(), md.GetCreationTimestamp() != nil)}
	if wide {
		names, images := containerColumns(s.GetTemplate().GetSpec().GetContainers())
		row = append(row, names, images, selectorColumn(s.GetSelector()))
	}
	return row
}

// describeDaemonSet writes a DaemonSet the way kubectl describe does.
func (e *cliEnv) describeDaemonSet(w io.Writer, ds *v1.DaemonSet, pods []*v1.Pod, events []*v1.Event) error {
	d := newDescriber(w)
	md, s, st := ds.GetMetadata(), ds.GetSpec(), ds.GetStatus()
	d.line(0, "Name:\t%s", md.GetName())
	d.line(0, "Namespace:\t%s", md.GetNamespace())
	d.line(0, "Selector:\t%s", selectorColumn(s.GetSelector()))
	d.line(0, "Node-Selector:\t%s", nodeSelectorColumn(s.GetTemplate().GetSpec().GetNodeSelector()))
	d.multi(0, "Labels", mapString(md.GetLabels()))
	d.multi(0, "Annotations", mapString(md.GetAnnotations()))
	us := s.GetUpdateStrategy()
	strategy := us.GetType()
	if ru := us.GetRollingUpdate(); strategy == "RollingUpdate" && ru != nil {
		strategy += fmt.Sprintf(" (max unavailable %s, max surge %s)", ru.GetMaxUnavailable(), ru.GetMaxSurge())
	}
	d.line(0, "Update Strategy:\t%s", strategy)
	d.line(0, "Min Ready Seconds:\t%d", s.GetMinReadySeconds())
	d.line(0, "Desired Number of Nodes Scheduled:\t%d", st.GetDesiredNumberScheduled())
	d.line(0, "Current Number of Nodes Scheduled:\t%d", st.GetCurrentNumberScheduled())
	d.line(0, "Number of Nodes Scheduled with Up-to-date Pods:\t%d", st.GetUpdatedNumberScheduled())
	d.line(0, "Number of Nodes Scheduled with Available Pods:\t%d", st.GetNumberAvailable())
	d.line(0, "Number of Nodes Misscheduled:\t%d", st.GetNumberMisscheduled())
	running, waiting, succeeded, failed := 0, 0, 0, 0
	for _, p := range pods {
		switch p.GetStatus().GetPhase() {
		case "Running":
			running++
		case "Succeeded":
			succeeded++
		case "Failed":
			failed++
		default:
			waiting++
		}
	}
	d.line(0, "Pods Status:\t%d Running / %d Waiting / %d Succeeded / %d Failed", running, waiting, succeeded, failed)
	d.line(0, "Pod Template:")
	tmpl := s.GetTemplate()
	d.multi(1, "Labels", mapString(tmpl.GetMetadata().GetLabels()))
	e.describeContainers(d, 1, tmpl.GetSpec().GetContainers(), nil)
	d.line(0, "Pods:")
	if len(pods) == 0 {
		d.line(1, "<none>")
	} else {
		sort.Slice(pods, func(a, b int) bool { return pods[a].GetSpec().GetNodeName() < pods[b].GetSpec().GetNodeName() })
		d.line(1, "Name\tNode\tStatus\tRevision\tAge")
		d.line(1, "----\t----\t------\t--------\t---")
		for _, p := range pods {
			d.line(1, "%s\t%s\t%s\t%s\t%s", p.GetMetadata().GetName(), p.GetSpec().GetNodeName(), podStatus(p),
				p.GetMetadata().GetLabels()["controller-revision-hash"], e.age(p.GetMetadata().GetCreationTimestamp(), true))
		}
	}
	e.describeEvents(d, events)
	return d.flush()
}

// runDescribeDaemonSet is `drover describe daemonset NAME`.
func (e *cliEnv) runDescribeDaemonSet(ctx context.Context, c *client.Client, ns, name string) error {
	ds, err := c.DaemonSets(ns).Get(ctx, name)
	if err != nil {
		return notFound(kindDaemonSet, name, err)
	}
	pods, err := c.Pods(ns).List(ctx, client.ListOptions{LabelSelector: "controller-uid=" + ds.GetMetadata().GetUid()})
	if err != nil {
		return err
	}
	events, err := objectEvents(ctx, c, ns, "DaemonSet", ds.GetMetadata())
	if err != nil {
		return err
	}
	return e.describeDaemonSet(e.out, ds, pods.Items, events)
}
