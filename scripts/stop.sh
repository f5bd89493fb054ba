#!/usr/bin/env bash
# make stop: stop the `drover dev` that `make run` started.
set -euo pipefail
: "${DEV_LOG:?}"
pidfile="$(dirname "$DEV_LOG")/drover-dev.pid"
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "no drover dev started by make run is running"; rm -f "$pidfile"; exit 0
fi
pid=$(cat "$pidfile")
kill -INT "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
rm -f "$pidfile"
echo "stopped drover dev (pid $pid); its data stays in the data dir"
