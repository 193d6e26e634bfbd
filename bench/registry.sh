#!/usr/bin/env bash
# Registry benchmark (not a test): push and pull times of a Debian image
# through one local registry (Debian's docker-registry on 127.0.0.1), whale
# beside dockerd, on the very same image: `whale bootstrap debian` makes
# debian:bookworm, and `whale save | docker load` gives dockerd the same
# layer and config.
#
# Usage (as root, from anywhere in the repo):
#   bench/registry.sh [RUNS]      # RUNS >= 1, default 3; prints medians
#
# Every run starts the registry on an empty storage dir, so each push uploads
# every layer (none is "already there") and each pull fetches every layer
# into a store that lacks it. Docker is measured when `docker info` answers
# (DOCKER_HOST or the default socket); its images here are named
# registry-bench-* and removed at the end.
set -euo pipefail

RUNS=${1:-3}
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root: whale's daemon needs namespaces, mounts and cgroups" >&2
    exit 1
fi
REGISTRY_BIN=/usr/bin/docker-registry
[ -x "$REGISTRY_BIN" ] || { echo "error: $REGISTRY_BIN is missing (apt-get install docker-registry)" >&2; exit 1; }
for tool in curl mmdebstrap python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_setup registry
DAEMON_PID=""
REG_PID=""
TAG="registry-bench-debian:$$"
DOCKER_REFS=()

cleanup() {
    set +e
    [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
    for r in "${DOCKER_REFS[@]}"; do docker rmi -f "$r" >/dev/null 2>&1; done
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DAEMON_PID" 2>/dev/null
    fi
    kill_leftovers "$WHALE_ROOT" "$T"
}
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG="127.0.0.1:$PORT"

# start_registry: a registry on an empty storage dir.
start_registry() {
    if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
    rm -rf "$T/reg"
    mkdir -p "$T/reg"
    cat >"$T/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/reg
  delete:
    enabled: true
http:
  addr: $REG
EOF
    "$REGISTRY_BIN" serve "$T/registry.yml" >>"$T/registry.log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 100); do curl -sf "http://$REG/v2/" >/dev/null && return; sleep 0.1; done
    echo "error: the registry did not start:" >&2
    cat "$T/registry.log" >&2
    exit 1
}

# secs CMD...: run it quietly, print its wall time in seconds.
secs() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$@" >"$T/last.log" 2>&1 || { echo "error: failed: $*" >&2; cat "$T/last.log" >&2; exit 1; }
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "==> whale daemon on $T"
"$WHALE" daemon --root "$WHALE_ROOT" -H "$WHALE_HOST" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do
    curl -sf --unix-socket "$T/whale.sock" http://localhost/_ping >/dev/null 2>&1 && break
    sleep 0.05
done
echo "==> whale bootstrap debian (mmdebstrap, once)"
"$WHALE" bootstrap debian >"$T/bootstrap.log" 2>&1 || { cat "$T/bootstrap.log" >&2; exit 1; }
"$WHALE" tag debian:bookworm "$TAG"
"$WHALE" rmi debian:bookworm >/dev/null
SIZE=$("$WHALE" images --format '{{.Size}}' "$TAG")

HAVE_DOCKER=""
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    HAVE_DOCKER=1
    "$WHALE" save "$TAG" >"$T/debian.tar"
    docker load -i "$T/debian.tar" >/dev/null
    rm -f "$T/debian.tar"
    DOCKER_REFS+=("$TAG")
fi

W_PUSH=() W_PULL=() D_PUSH=() D_PULL=()
for ((i = 1; i <= RUNS; i++)); do
    start_registry
    img="$REG/bench/debian-whale:$i"
    "$WHALE" tag "$TAG" "$img"
    W_PUSH+=("$(secs "$WHALE" push "$img")")
    # Every reference goes, so the pull finds no layer in the store.
    "$WHALE" rmi "$img" "$TAG" >/dev/null
    W_PULL+=("$(secs "$WHALE" pull "$img")")
    "$WHALE" tag "$img" "$TAG"
    "$WHALE" rmi "$img" >/dev/null
    if [ -n "$HAVE_DOCKER" ]; then
        dimg="$REG/bench/debian-docker:$i"
        docker tag "$TAG" "$dimg"
        DOCKER_REFS+=("$dimg")
        D_PUSH+=("$(secs docker push "$dimg")")
        docker rmi "$dimg" "$TAG" >/dev/null
        D_PULL+=("$(secs docker pull "$dimg")")
        docker tag "$dimg" "$TAG"
        docker rmi "$dimg" >/dev/null
    fi
    echo "run $i: whale push ${W_PUSH[-1]} s, pull ${W_PULL[-1]} s${HAVE_DOCKER:+; docker push ${D_PUSH[-1]} s, pull ${D_PULL[-1]} s}"
done

echo
echo "== Debian bookworm ($SIZE unpacked), one local registry, median of $RUNS runs ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-10s %10s %10s\n' engine push pull
printf '%-10s %9ss %9ss\n' whale "$(printf '%s\n' "${W_PUSH[@]}" | median)" "$(printf '%s\n' "${W_PULL[@]}" | median)"
if [ -n "$HAVE_DOCKER" ]; then
    printf '%-10s %9ss %9ss\n' dockerd "$(printf '%s\n' "${D_PUSH[@]}" | median)" "$(printf '%s\n' "${D_PULL[@]}" | median)"
else
    echo "dockerd    (skipped: no dockerd answers)"
fi
echo
echo "reproduce: sudo $REPO/bench/registry.sh $RUNS"
