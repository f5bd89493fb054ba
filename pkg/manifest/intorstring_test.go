package manifest

import (
	"testing"

	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
)

// A Kubernetes DaemonSet manifest applies unchanged (SPEC O2, D2): the
// int-or-string rollingUpdate fields take numbers and percentages.
func TestDaemonSetIntOrString(t *testing.T) {
	objs, err := Parse([]byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1, maxSurge: "25%"}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "*/1 * * * *"
  timeZone: Europe/Berlin
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: a, image: busybox}]
`))
	if err != nil {
		t.Fatal(err)
	}
	ds := objs[0].(*v1.DaemonSet)
	ru := ds.GetSpec().GetUpdateStrategy().GetRollingUpdate()
	if ru.GetMaxUnavailable() != "1" || ru.GetMaxSurge() != "25%" {
		t.Fatalf("rollingUpdate = %v", ru)
	}
	if cj := objs[1].(*v1.CronJob); cj.GetSpec().GetSchedule() != "*/1 * * * *" || cj.GetSpec().GetTimeZone() != "Europe/Berlin" {
		t.Fatalf("cronjob = %v", cj)
	}
	_, err = Parse([]byte(`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"a"},"spec":{"updateStrategy":{"rollingUpdate":{"maxUnavailable":1.5}}}}`))
	if err == nil || err.Error() != "spec.updateStrategy.rollingUpdate.maxUnavailable: expected integer or percentage string, got number 1.5" {
		t.Fatalf("err = %v", err)
	}
}
