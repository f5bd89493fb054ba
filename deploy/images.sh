#!/usr/bin/env bash
# Builds Drover's images from binaries built on this machine; nothing is
# pulled (every image is FROM scratch). Called by `make images` after
# `make build etcd`. Build contexts are staging directories under .run/images.
#
#   drover/drover:latest   bin/drover
#   drover/etcd:latest     .tools/bin/etcd, .tools/bin/etcdctl
#   drover/busybox:latest  Debian's busybox-static and its applet links
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAGE=$ROOT/.run/images
DOCKER=${DOCKER:-docker}

if ! dpkg -s busybox-static >/dev/null 2>&1; then
  echo "images: installing Debian's busybox-static"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get install -y busybox-static >/dev/null 2>&1 || {
    $SUDO apt-get update >/dev/null && $SUDO apt-get install -y busybox-static >/dev/null; }
fi

rm -rf "$STAGE"
mkdir -p "$STAGE/drover" "$STAGE/etcd" "$STAGE/busybox/rootfs/bin" "$STAGE/busybox/rootfs/tmp"

cp bin/drover "$STAGE/drover/drover"
cp .tools/bin/etcd .tools/bin/etcdctl "$STAGE/etcd/"
cp /bin/busybox "$STAGE/busybox/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$STAGE/busybox/rootfs/bin/$applet"
done
chmod 1777 "$STAGE/busybox/rootfs/tmp"

build() { # image dockerfile context
  echo "images: $1"
  out=$($DOCKER build -q -t "$1" -f "$ROOT/deploy/docker/$2" "$3" 2>&1) || { echo "$out" >&2; exit 1; }
}
build drover/drover:latest Dockerfile.drover "$STAGE/drover"
build drover/etcd:latest Dockerfile.etcd "$STAGE/etcd"
build drover/busybox:latest Dockerfile.busybox "$STAGE/busybox"
$DOCKER image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^  drover/' || true
