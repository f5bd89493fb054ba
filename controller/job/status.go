package job

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

func condition(st *v1.JobStatus, typ string) *v1.JobCondition {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

func hasCondition(st *v1.JobStatus, typ string) bool {
	c := condition(st, typ)
	return c != nil && c.GetStatus() == "True"
}

// setCondition sets a condition; it reports whether its status changed.
func setCondition(st *v1.JobStatus, typ, status, reason, msg string, ts *timestamppb.Timestamp) bool {
	if c := condition(st, typ); c != nil {
		if c.Status == status {
			return false
		}
		c.Status, c.Reason, c.Message, c.LastTransitionTime, c.LastProbeTime = status, reason, msg, ts, ts
		return true
	}
	st.Conditions = append(st.Conditions, &v1.JobCondition{
		Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: ts, LastProbeTime: ts,
	})
	return true
}

// finishedAt is when the Job finished: the Complete or Failed transition.
func finishedAt(st *v1.JobStatus) *timestamppb.Timestamp {
	for _, typ := range []string{CondComplete, CondFailed} {
		if c := condition(st, typ); c != nil && c.Status == "True" {
			return c.LastTransitionTime
		}
	}
	return nil
}
