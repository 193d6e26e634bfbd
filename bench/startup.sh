#!/usr/bin/env bash
# Container start-up benchmark (not a test): the median wall time of
# `whale run --rm busybox true`, beside the kernel's floor
# (`unshare -fmpiun --mount-proc true`) and, when available, Docker's
# `docker run --rm --network none busybox true`. Also prints the idle
# daemon's resident memory.
#
# Usage (as root, from anywhere in the repo):
#   bench/startup.sh [RUNS]            # RUNS >= 30, default 50
#   BENCH_DOCKERD=1 bench/startup.sh   # also start a private dockerd to compare with
#
# Docker is measured when `docker info` answers (DOCKER_HOST or the default
# socket), or with BENCH_DOCKERD=1, against a private dockerd (own data root
# and socket, no bridge, no iptables) started and removed by this script. If
# that engine has no `busybox` image, one is imported from the host's static
# busybox as `whale-bench-busybox` and removed at the end.
set -euo pipefail

RUNS=${1:-50}
WARMUP=5
if [ "$RUNS" -lt 30 ]; then
    echo "error: RUNS must be at least 30 (got $RUNS)" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root: containers need namespaces, mounts and cgroups" >&2
    exit 1
fi
if [ -z "${EPOCHREALTIME:-}" ]; then
    echo "error: needs bash >= 5 (EPOCHREALTIME) for fork-free timing" >&2
    exit 1
fi

for tool in curl unshare; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (apt-get install curl util-linux)" >&2; exit 1; }
done

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_setup bench
DAEMON_PID=""
DOCKERD_PID=""
DOCKER_IMAGE=""
DOCKER_IMPORTED=""
DOCKER=(docker)

cleanup() {
    set +e
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        ids=$("$WHALE" ps -aq 2>/dev/null)
        [ -n "$ids" ] && "$WHALE" rm -f $ids >/dev/null 2>&1
        kill "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DAEMON_PID" 2>/dev/null
    fi
    if [ -n "$DOCKER_IMPORTED" ]; then
        "${DOCKER[@]}" rmi -f "$DOCKER_IMPORTED" >/dev/null 2>&1
    fi
    if [ -n "$DOCKERD_PID" ]; then
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DOCKERD_PID" 2>/dev/null
    fi
    # Anything still holding the bench root (a daemon the CLI restarted, a shim).
    kill_leftovers "$WHALE_ROOT" "$T"
}
trap cleanup EXIT INT TERM

# Prints median and p90 (ms) of the numbers (µs) given on stdin.
stats() {
    sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        p = v[int(NR * 0.9 + 0.999999)];
        printf "median %7.2f ms   p90 %7.2f ms   min %7.2f ms   (n=%d)\n", m / 1000, p / 1000, v[1] / 1000, NR }'
}

# time_runs LABEL CMD...: WARMUP untimed runs, then RUNS timed ones.
time_runs() {
    local label=$1
    shift
    local i t0 t1
    for ((i = 0; i < WARMUP; i++)); do "$@" >/dev/null 2>&1 || { echo "error: $label failed: $*" >&2; "$@"; return 1; }; done
    for ((i = 0; i < RUNS; i++)); do
        t0=$EPOCHREALTIME
        "$@" >/dev/null 2>&1 || { echo "error: $label failed on run $i: $*" >&2; return 1; }
        t1=$EPOCHREALTIME
        echo $(( (${t1/./} - ${t0/./}) ))
    done | stats | sed "s/^/$(printf '%-44s' "$label")/"
}

echo "==> whale daemon on $T"
"$WHALE" daemon --root "$WHALE_ROOT" -H "$WHALE_HOST" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do
    curl -sf --unix-socket "$T/whale.sock" http://localhost/_ping >/dev/null 2>&1 && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "error: whale daemon died:" >&2; cat "$T/daemon.log" >&2; exit 1; }
    sleep 0.05
done
"$WHALE" bootstrap busybox >/dev/null 2>&1 || { echo "error: whale bootstrap busybox failed (is busybox-static installed?)" >&2; "$WHALE" bootstrap busybox; exit 1; }

if [ "${BENCH_DOCKERD:-}" = 1 ]; then
    echo "==> private dockerd on $T/docker.sock (no bridge, no iptables)"
    mkdir -p "$T/docker" "$T/dexec"
    dockerd --bridge=none --iptables=false --ip-masq=false \
        --data-root "$T/docker" --exec-root "$T/dexec" --pidfile "$T/docker.pid" \
        -H "unix://$T/docker.sock" >"$T/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    DOCKER=(docker -H "unix://$T/docker.sock")
    for _ in $(seq 300); do "${DOCKER[@]}" info >/dev/null 2>&1 && break; sleep 0.1; done
fi
if command -v docker >/dev/null 2>&1 && "${DOCKER[@]}" info >/dev/null 2>&1; then
    if "${DOCKER[@]}" image inspect busybox >/dev/null 2>&1; then
        DOCKER_IMAGE=busybox
    else
        mkdir -p "$T/bbroot/bin"
        cp /bin/busybox "$T/bbroot/bin/busybox"
        for a in sh true; do ln -s busybox "$T/bbroot/bin/$a"; done
        tar -C "$T/bbroot" -c . | "${DOCKER[@]}" import - whale-bench-busybox >/dev/null
        DOCKER_IMPORTED=whale-bench-busybox
        DOCKER_IMAGE=whale-bench-busybox
    fi
fi

echo
echo "== start-up: $RUNS timed runs each after $WARMUP warm-up runs ($(nproc) CPUs, $(uname -r))"
time_runs "unshare -fmpiun --mount-proc true" unshare -fmpiun --mount-proc true
time_runs "whale run --rm busybox true" "$WHALE" run --rm busybox true
if [ -n "$DOCKER_IMAGE" ]; then
    time_runs "docker run --rm --network none busybox true" \
        "${DOCKER[@]}" run --rm --network none "$DOCKER_IMAGE" true
else
    echo "docker run --rm --network none busybox true  (skipped: no dockerd answers; BENCH_DOCKERD=1 starts a private one)"
fi
echo "   target: whale's median <= 15 ms"

sleep 1
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
awk -v kb="$rss_kb" 'BEGIN { printf "\n== idle whale daemon: VmRSS %.1f MB (%d kB)   target: <= 15 MB\n", kb / 1024, kb }'
echo
echo "reproduce: sudo ${BENCH_DOCKERD:+BENCH_DOCKERD=1 }$REPO/bench/startup.sh $RUNS"
