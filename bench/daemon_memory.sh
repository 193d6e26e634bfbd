#!/usr/bin/env bash
# Daemon memory benchmark (not a test): the whale daemon's resident memory
# (VmRSS) idle, after a STEPS-step build, and after serving a LOG_MB MB
# container log, beside a private dockerd doing the same work when
# BENCH_DOCKERD=1 (its own data root and socket, no bridge, no iptables).
#
# Usage (as root, from anywhere in the repo):
#   bench/daemon_memory.sh [STEPS] [LOG_MB]      # defaults 1000 and 200
#   BENCH_DOCKERD=1 bench/daemon_memory.sh       # also measure dockerd
#
# The build is FROM busybox with STEPS `ENV` steps (each one an image in the
# store, as a long Dockerfile makes); the log is one container printing
# LOG_MB MB of 100-byte lines, read back in full by `logs`. Each figure is
# read 6 s after the work ends, so what a daemon gives back by itself
# within a few seconds (whale trims its allocator every 5 s) counts.
set -euo pipefail

STEPS=${1:-1000}
LOG_MB=${2:-200}
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root: containers need namespaces, mounts and cgroups" >&2
    exit 1
fi
command -v curl >/dev/null 2>&1 || { echo "error: curl is missing (apt-get install curl)" >&2; exit 1; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_setup mem
DAEMON_PID=""
DOCKERD_PID=""
DOCKER=(docker -H "unix://$T/docker.sock")

cleanup() {
    set +e
    if [ -n "$DAEMON_PID" ]; then
        ids=$("$WHALE" ps -aq 2>/dev/null)
        [ -n "$ids" ] && "$WHALE" rm -f $ids >/dev/null 2>&1
        kill "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DAEMON_PID" 2>/dev/null
    fi
    if [ -n "$DOCKERD_PID" ]; then
        ids=$("${DOCKER[@]}" ps -aq 2>/dev/null)
        [ -n "$ids" ] && "${DOCKER[@]}" rm -f $ids >/dev/null 2>&1
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DOCKERD_PID" 2>/dev/null
    fi
    kill_leftovers "$WHALE_ROOT" "$T"
}
trap cleanup EXIT INT TERM

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

mkdir -p "$T/ctx"
{
    echo "FROM busybox"
    for i in $(seq "$STEPS"); do echo "ENV STEP_$i=$i"; done
} >"$T/ctx/Dockerfile"
LOG_CMD="head -c $((LOG_MB * 1000 * 1000)) /dev/zero | tr '\\0' x | fold -w 99"

# measure NAME PID CLI...: the three figures for one engine, on one line.
measure() {
    local name=$1 pid=$2
    shift 2
    local idle built logged
    sleep 6
    idle=$(rss_mb "$pid")
    "$@" build -q -t mem-bench "$T/ctx" >/dev/null
    sleep 6
    built=$(rss_mb "$pid")
    "$@" run --name mem-logger --network none busybox sh -c "$LOG_CMD" >/dev/null
    "$@" logs mem-logger >/dev/null
    sleep 6
    logged=$(rss_mb "$pid")
    printf '%-8s idle %7s MB   after a %d-step build %7s MB   after a %d MB log %7s MB\n' \
        "$name" "$idle" "$STEPS" "$built" "$LOG_MB" "$logged"
}

echo "==> whale daemon on $T"
"$WHALE" daemon --root "$WHALE_ROOT" -H "$WHALE_HOST" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do
    curl -sf --unix-socket "$T/whale.sock" http://localhost/_ping >/dev/null 2>&1 && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "error: whale daemon died:" >&2; cat "$T/daemon.log" >&2; exit 1; }
    sleep 0.05
done
"$WHALE" bootstrap busybox >/dev/null

if [ "${BENCH_DOCKERD:-}" = 1 ]; then
    command -v dockerd >/dev/null 2>&1 || { echo "error: BENCH_DOCKERD=1 needs dockerd (apt-get install docker.io)" >&2; exit 1; }
    echo "==> private dockerd on $T/docker.sock (no bridge, no iptables)"
    mkdir -p "$T/docker" "$T/dexec"
    dockerd --bridge=none --iptables=false --ip-masq=false \
        --data-root "$T/docker" --exec-root "$T/dexec" --pidfile "$T/docker.pid" \
        -H "unix://$T/docker.sock" >"$T/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 300); do "${DOCKER[@]}" info >/dev/null 2>&1 && break; sleep 0.1; done
    # A busybox like Docker Hub's: /etc/passwd, /tmp, CMD ["sh"].
    "$WHALE" save busybox | "${DOCKER[@]}" load >/dev/null
fi

echo
echo "== daemon VmRSS ($(nproc) CPUs, $(uname -r))"
measure whale "$DAEMON_PID" "$WHALE"
if [ -n "$DOCKERD_PID" ]; then
    DOCKER_BUILDKIT=0 measure dockerd "$DOCKERD_PID" "${DOCKER[@]}"
else
    echo "dockerd  (skipped: BENCH_DOCKERD=1 starts a private one)"
fi
echo
echo "reproduce: sudo ${BENCH_DOCKERD:+BENCH_DOCKERD=1 }$REPO/bench/daemon_memory.sh $STEPS $LOG_MB"
