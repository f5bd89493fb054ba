#!/usr/bin/env bash
# make run: start `drover dev` in the background (or reuse the one running),
# run examples/pi.yaml, wait for it and print its output. The cluster is left
# running; `make stop` stops it.
set -euo pipefail
: "${DROVER:?}" "${DEV_DATA:?}" "${DEV_LOG:?}" "${SERVER:?}"
export DROVER_SERVER="$SERVER"
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

# The pi example runs `perl -Mbignum=bpi -wle 'print bpi(2000)'` on this
# machine (the process runtime ignores the image). Debian 12's stock
# Math::BigInt cannot compute bpi(2000); its libmath-bigint-perl package can.
# The check runs the example's own command: without the print, perl never
# computes the digits and the stock module looks fine.
if ! perl -Mbignum=bpi -wle 'print bpi(2000)' >/dev/null 2>&1; then
  say "installing Debian's libmath-bigint-perl (perl's bpi(2000) needs it)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq libmath-bigint-perl >/dev/null
fi

if "$DROVER" get nodes >/dev/null 2>&1; then
  say "a drover cluster already answers on $SERVER: using it"
else
  mkdir -p "$(dirname "$DEV_LOG")" "$DEV_DATA"
  say "starting drover dev (data in $DEV_DATA, log in $DEV_LOG)"
  nohup "$DROVER" dev --data-dir "$DEV_DATA" --listen "$SERVER" >"$DEV_LOG" 2>&1 &
  echo $! >"$(dirname "$DEV_LOG")/drover-dev.pid"
  printf '==> waiting for the API and 2 ready workers '
  for i in $(seq 1 120); do
    if ! kill -0 "$(cat "$(dirname "$DEV_LOG")/drover-dev.pid")" 2>/dev/null; then
      echo; say "drover dev exited; its log:"; tail -20 "$DEV_LOG"; exit 1
    fi
    ready=$({ "$DROVER" get nodes 2>/dev/null || true; } | awk 'NR>1 && $2=="Ready"' | wc -l)
    [ "${ready:-0}" -ge 2 ] && break
    printf '.'; sleep 0.5
  done
  echo
fi

"$DROVER" delete job pi >/dev/null 2>&1 || true
say "drover apply -f examples/pi.yaml"
"$DROVER" apply -f examples/pi.yaml
say "drover wait job/pi --for=condition=Complete --timeout 3m"
"$DROVER" wait job/pi --for=condition=Complete --timeout 3m
say "drover get job pi"
"$DROVER" get job pi
say "drover logs job/pi"
"$DROVER" logs job/pi
cat <<MSG

The cluster is still running (API $SERVER, etcd 127.0.0.1:2379, log $DEV_LOG). Try:
  export PATH=\$PWD/bin:\$PATH
  drover get nodes
  drover apply -f examples/parallel.yaml && drover get pods -w
  drover describe job parallel
  make etcd && .tools/bin/etcdctl get --prefix /drover/jobs/
Stop it with: make stop
MSG
