package worker

import (
	"errors"
	"io"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runtimev1 "github.com/drover-dev/drover/pkg/api/drover/runtime/v1"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/worker/runtime"
)

// agentServer is the NodeAgentService: it streams the logs of pods that run,
// or ran, on this node, until their assignment is deleted (SPEC P3).
type agentServer struct {
	v1.UnimplementedNodeAgentServiceServer
	w  *Worker
	rt runtime.Backend
}

// StreamPodLogs streams the log of the pod's container (the only one when
// the request names none; the latest attempt when it restarted).
func (a *agentServer) StreamPodLogs(req *v1.StreamPodLogsRequest, stream v1.NodeAgentService_StreamPodLogsServer) error {
	ctx := stream.Context()
	sel := map[string]string{LabelNode: a.w.cfg.NodeName}
	switch {
	case req.GetPodUid() != "":
		sel[LabelPodUID] = req.GetPodUid()
	case req.GetName() != "":
		sel[LabelPodNamespace] = req.GetNamespace()
		if sel[LabelPodNamespace] == "" {
			sel[LabelPodNamespace] = "default"
		}
		sel[LabelPodName] = req.GetName()
	default:
		return status.Error(codes.InvalidArgument, "pod_uid or name is required")
	}
	infos, err := a.rt.List(ctx, sel)
	if err != nil {
		return status.Errorf(codes.Unavailable, "list containers: %v", err)
	}
	if len(infos) == 0 {
		return status.Errorf(codes.NotFound, "no containers of pod %s on node %s", podName(req), a.w.cfg.NodeName)
	}
	info, err := pickContainer(infos, req.GetContainer())
	if err != nil {
		return err
	}
	r, err := a.rt.Logs(ctx, info.GetId(), req.GetFollow(), req.GetTailLines())
	if errors.Is(err, runtime.ErrNotFound) {
		return status.Errorf(codes.NotFound, "container %s is gone", info.GetId())
	}
	if err != nil {
		return status.Errorf(codes.Unavailable, "logs: %v", err)
	}
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if serr := stream.Send(&v1.StreamPodLogsResponse{Data: append([]byte(nil), buf[:n]...)}); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return status.Errorf(codes.Unavailable, "logs: %v", err)
		}
	}
}

func podName(req *v1.StreamPodLogsRequest) string {
	if req.GetPodUid() != "" {
		return req.GetPodUid()
	}
	return req.GetNamespace() + "/" + req.GetName()
}

// pickContainer returns the latest attempt of the named container, or of
// the pod's only container when name is empty. Containers of an older pod
// of the same name lose to the newest one.
func pickContainer(infos []*runtimev1.ContainerInfo, name string) (*runtimev1.ContainerInfo, error) {
	sort.Slice(infos, func(i, j int) bool {
		a, b := infos[i], infos[j]
		if a.GetStartedAtUnixNano() != b.GetStartedAtUnixNano() {
			return a.GetStartedAtUnixNano() > b.GetStartedAtUnixNano()
		}
		return attemptOf(a) > attemptOf(b)
	})
	newest := infos[0].GetLabels()[LabelPodUID]
	names := map[string]bool{}
	var found *runtimev1.ContainerInfo
	for _, info := range infos {
		if info.GetLabels()[LabelPodUID] != newest {
			continue
		}
		n := info.GetLabels()[LabelContainer]
		names[n] = true
		if found == nil && (name == "" || n == name) {
			found = info
		}
	}
	if name == "" && len(names) > 1 {
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		return nil, status.Errorf(codes.InvalidArgument, "the pod has several containers, name one of: %s", strings.Join(list, ", "))
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "no container %q in the pod", name)
	}
	return found, nil
}
