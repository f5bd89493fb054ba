package apiserver

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// checkDependencyCycle refuses a Job whose spec.dependsOn closes a cycle
// through the stored Jobs of its namespace (SPEC J18): following dependsOn
// from the new Job must never lead back to it. Jobs named but not stored yet
// end a path. The error is InvalidArgument naming spec.dependsOn and the cycle.
func (s *Server) checkDependencyCycle(ctx context.Context, job *v1.Job) error {
	if len(job.GetSpec().GetDependsOn()) == 0 {
		return nil
	}
	jobs, _, err := s.st.Jobs().List(ctx, job.GetMetadata().GetNamespace())
	if err != nil {
		return toStatus(err)
	}
	deps := map[string][]string{}
	for _, j := range jobs {
		deps[j.GetMetadata().GetName()] = j.GetSpec().GetDependsOn()
	}
	self := job.GetMetadata().GetName()
	deps[self] = job.GetSpec().GetDependsOn()
	if cycle := findCycle(self, deps); cycle != nil {
		return invalid("spec.dependsOn", fmt.Sprintf("dependency cycle: %s", strings.Join(cycle, " -> ")))
	}
	return nil
}

// findCycle returns a path start -> ... -> start through deps, or nil.
// Each name is visited once, so it is linear in the number of edges.
func findCycle(start string, deps map[string][]string) []string {
	visited := map[string]bool{}
	var path []string
	var walk func(n string) bool
	walk = func(n string) bool {
		path = append(path, n)
		for _, d := range deps[n] {
			if d == start {
				path = append(path, d)
				return true
			}
			if !visited[d] {
				visited[d] = true
				if walk(d) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(start) {
		return path
	}
	return nil
}
