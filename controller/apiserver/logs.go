package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// AddressTypeAgent is the node address type of a worker's NodeAgentService.
const AddressTypeAgent = "AgentEndpoint"

func secondsDuration(s int64) time.Duration { return time.Duration(s) * time.Second }

func dialAgent(_ context.Context, addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// PodLogs streams a pod's output from the worker of its node (SPEC P3).
func (s *Server) PodLogs(req *v1.PodLogsRequest, srv v1.DroverService_PodLogsServer) error {
	ctx := srv.Context()
	namespace, name := ns(req.GetNamespace()), req.GetName()
	p, err := s.st.Pods().Get(ctx, namespace, name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("pod", namespace, name)
	}
	if err != nil {
		return toStatus(err)
	}
	container := req.GetContainer()
	if container == "" {
		cs := p.GetSpec().GetContainers()
		if len(cs) != 1 {
			return invalid("container", fmt.Sprintf("pod %s has %d containers: choose one", name, len(cs)))
		}
		container = cs[0].GetName()
	}
	nodeName := p.GetSpec().GetNodeName()
	if nodeName == "" {
		return status.Errorf(codes.FailedPrecondition, "pod %s is not scheduled yet: no logs", name)
	}
	node, err := s.st.Nodes().Get(ctx, "", nodeName)
	if errors.Is(err, store.ErrNotFound) {
		return status.Errorf(codes.NotFound, "pod %s ran on node %s, which no longer exists: its log went with it", name, nodeName)
	}
	if err != nil {
		return toStatus(err)
	}
	addr := ""
	for _, a := range node.GetStatus().GetAddresses() {
		if a.GetType() == AddressTypeAgent {
			addr = a.GetAddress()
		}
	}
	if addr == "" {
		return status.Errorf(codes.Unavailable, "node %s publishes no agent address", nodeName)
	}
	conn, err := s.dial(ctx, addr)
	if err != nil {
		return status.Errorf(codes.Unavailable, "node %s: %v", nodeName, err)
	}
	defer conn.Close()
	stream, err := v1.NewNodeAgentServiceClient(conn).StreamPodLogs(ctx, &v1.StreamPodLogsRequest{
		Namespace: namespace, Name: name, PodUid: p.GetMetadata().GetUid(), Container: container,
		Follow: req.GetFollow(), TailLines: req.GetTailLines(),
	})
	if err != nil {
		return err
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := srv.Send(&v1.PodLogsResponse{Data: chunk.GetData()}); err != nil {
			return err
		}
	}
}
