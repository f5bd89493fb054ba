#!/usr/bin/env bash
# The multi-node demo (`make demo`): brings up deploy/docker-compose.yml,
# runs an Indexed Job of busybox containers, kills a worker and watches its
# pods replaced after the 40 s lease timeout (SPEC N2), kills the leading
# controller and watches the other take over (L2), then reads the state with
# etcdctl from inside the cluster's network (O3). It ends with the cluster up.
#
#   deploy/demo.sh          the demo (after `make images`)
#   deploy/demo.sh down     tear the cluster down, with the pods' containers
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CLUSTER=${CLUSTER:-drover}
export API_PORT=${API_PORT:-7070} API_PORT_2=${API_PORT_2:-7071}
export DROVER_SERVER=127.0.0.1:$API_PORT,127.0.0.1:$API_PORT_2
DROVER=$ROOT/bin/drover
if [ -z "${COMPOSE:-}" ]; then
  if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"; else COMPOSE=docker-compose; fi
fi
compose() { $COMPOSE -p "$CLUSTER" -f "$ROOT/deploy/docker-compose.yml" "$@"; }
ENDPOINTS=http://etcd-1:2379,http://etcd-2:2379,http://etcd-3:2379
# etcdctl runs inside the etcd-1 container, on the cluster's private network.
etcdctl() { docker exec "$CLUSTER-etcd-1" etcdctl --endpoints="$ENDPOINTS" "$@"; }

bold=$(tput bold 2>/dev/null || true) off=$(tput sgr0 2>/dev/null || true)
step() { echo; echo "${bold}==> $*${off}"; }
say() { echo "    $*"; }
run() { echo "    \$ $*"; "$@" 2>&1 | sed '/^$/d; s/^/      /'; }

down() {
  compose down -v --remove-orphans 2>&1 | sed 's/^/    /'
  # The workers' pods are containers of the host's engine, outside the project.
  for i in 1 2 3; do
    ids=$(docker ps -aq --filter "label=drover.runtime-scope=$CLUSTER-worker-$i")
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
  done
}

if [ "${1:-}" = down ]; then
  step "tearing down the $CLUSTER cluster"
  down
  exit 0
fi

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what=$1 limit=$2; shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= limit )); then echo "    timed out after ${limit}s waiting for: $what" >&2; exit 1; fi
    sleep 1
  done
}
now_ms() { date +%s%3N; }
nodes_ready() { [ "$($DROVER get nodes 2>/dev/null | awk '$2=="Ready"' | wc -l)" -ge "$1" ]; }
# running_on_others NODE: all 6 indexes Running, none on NODE.
running_pods() { $DROVER get pods -l job-name=demo -o wide 2>/dev/null | awk 'NR>1 && $3=="Running"'; }
replaced() { [ "$(running_pods | awk -v n="$1" '$6!=n' | wc -l)" -ge 6 ]; }
leader() { etcdctl get --prefix /drover/leader/ --sort-by=CREATE --order=ASCEND --limit=1 --print-value-only 2>/dev/null | head -1; }
leader_is_not() { local l; l=$(leader); [ -n "$l" ] && [ "$l" != "$1" ]; }

step "1/6 starting the cluster: 3 etcd members, 2 controllers, 3 workers (project $CLUSTER)"
down >/dev/null 2>&1 || true
compose up -d 2>&1 | sed 's/^/    /'
wait_for "3 Ready nodes" 90 nodes_ready 3
run $DROVER get nodes
run $DROVER status

step "2/6 an Indexed Job of 6 busybox containers"
run cat deploy/indexed-job.yaml
run $DROVER apply -f deploy/indexed-job.yaml
wait_for "6 running pods" 60 replaced none
run $DROVER get pods -o wide
say "each pod is a container on the host's engine, labelled with its pod and node:"
run docker ps --filter "label=drover.pod-name" --filter "label=drover.runtime-scope" \
  --format 'table {{.Names}}\t{{.Label "drover.pod-name"}}\t{{.Label "drover.node"}}\t{{.Status}}'
sleep 1
run $DROVER logs job/demo

VICTIM=$($DROVER get pods -l job-name=demo -o wide | awk 'NR==2{print $6}')
step "3/6 killing worker $VICTIM (docker kill): its pods are replaced once its 40 s lease expires"
say "its pod containers share its PID namespace, so they die with it: no index ever runs twice (SPEC J13)"
t0=$(now_ms)
run docker kill "$VICTIM"
wait_for "the node to go NotReady" 90 bash -c "! $DROVER get nodes | awk '\$1==\"$VICTIM\"' | grep -qw Ready"
t1=$(now_ms)
say "node $VICTIM NotReady after $(( (t1 - t0) / 1000 )) s (lease TTL 40 s, renewed every 10 s)"
wait_for "replacement pods" 60 replaced "$VICTIM"
t2=$(now_ms)
say "all 6 indexes running again $(( t2 - t1 )) ms after the node was lost, $(( (t2 - t0) / 1000 )) s after the kill"
run $DROVER get nodes
run $DROVER get pods -o wide
run $DROVER describe job demo

OLD=$(leader)
step "4/6 killing the leading controller ($OLD): the other replica takes over"
t0=$(now_ms)
run docker kill "$CLUSTER-$OLD"
wait_for "a new leader" 60 leader_is_not "$OLD"
t1=$(now_ms)
say "new leader $(leader) after $(( (t1 - t0) / 1000 )) s (election session TTL 10 s)"
run $DROVER status
run $DROVER get job demo

step "5/6 the state, read with etcdctl from inside the cluster's network (docker exec $CLUSTER-etcd-1 etcdctl …)"
run etcdctl member list -w table
run etcdctl get --prefix --keys-only /drover/jobs/
say "the Job, as stored (JSON):"
echo "    \$ etcdctl get /drover/jobs/default/demo --print-value-only | jq .status"
etcdctl get /drover/jobs/default/demo --print-value-only | jq .status | sed 's/^/      /'
say "which replica leads (the election key with the lowest create revision):"
run etcdctl get --prefix /drover/leader/ --sort-by=CREATE --order=ASCEND
say "the workers' leases and liveness keys:"
run etcdctl lease list
run etcdctl get --prefix /drover/heartbeats/
NODE=$CLUSTER-worker-$(( ${VICTIM##*-} % 3 + 1 ))
say "which pods are on node $NODE:"
run etcdctl get --prefix --keys-only "/drover/assignments/$NODE/"

step "6/6 restarting the killed worker and controller; the Job runs to completion"
compose start "${VICTIM#$CLUSTER-}" "$OLD" 2>&1 | sed 's/^/    /'
run $DROVER wait job/demo --for=condition=Complete --timeout 5m
run $DROVER get job demo
run $DROVER get nodes

echo
echo "${bold}The cluster is still up.${off}"
echo "  export DROVER_SERVER=$DROVER_SERVER PATH=$ROOT/bin:\$PATH"
echo "  drover get pods -o wide; drover logs job/demo"
echo "  docker exec $CLUSTER-etcd-1 etcdctl --endpoints=$ENDPOINTS get --prefix --keys-only /drover/"
echo "Tear it down with: make demo-down"
