#!/usr/bin/env bash
# `logs` benchmark (not a test): the time of `logs` of a LOG_MB MB container
# log and the daemon's peak resident memory meanwhile (sampled every 20 ms,
# shown as growth over the daemon's RSS before the call), then the time of
# `logs --tail 10` of the same log (the median of TAIL_RUNS calls, default
# 5, with the fastest: one call is a few ms of work and a busy machine's
# scheduling moves it by hundreds); whale beside dockerd in the same run.
# Goals for whale: RSS grows under 64 MB, `--tail 10` under 200 ms.
#
# Usage (as root, from anywhere in the repo):
#   bench/logs.sh [LOG_MB]                 # default 200; dockerd: the one on
#                                          # DOCKER_HOST or the default socket
#   BENCH_DOCKERD=1 bench/logs.sh          # a private dockerd instead
#
# The log is one container printing LOG_MB MB of 100-byte lines
# (--network none). The dockerd container is named uniquely and removed.
set -euo pipefail

LOG_MB=${1:-200}
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root: containers need namespaces, mounts and cgroups" >&2
    exit 1
fi
command -v curl >/dev/null 2>&1 || { echo "error: curl is missing (apt-get install curl)" >&2; exit 1; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_setup logs
DAEMON_PID=""
DOCKERD_PID=""
OWN_DOCKERD=""
NAME="logs-bench-$$"
DOCKER_SOCK=${DOCKER_HOST:-unix:///var/run/docker.sock}
DOCKER_SOCK=${DOCKER_SOCK#unix://}

cleanup() {
    set +e
    if [ -n "$DAEMON_PID" ]; then
        "$WHALE" rm -f "$NAME" >/dev/null 2>&1
        kill "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DAEMON_PID" 2>/dev/null
    fi
    if [ -n "$DOCKERD_PID" ]; then
        docker -H "unix://$DOCKER_SOCK" rm -f "$NAME" >/dev/null 2>&1
        if [ -n "$OWN_DOCKERD" ]; then
            kill "$DOCKERD_PID" 2>/dev/null
            for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$DOCKERD_PID" 2>/dev/null
        fi
    fi
    kill_leftovers "$WHALE_ROOT" "$T"
}
trap cleanup EXIT INT TERM

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
LOG_CMD="head -c $((LOG_MB * 1000 * 1000)) /dev/zero | tr '\\0' x | fold -w 99"

# measure NAME PID CLI...: one engine's figures, on one line.
measure() {
    local engine=$1 pid=$2
    shift 2
    "$@" run --name "$NAME" --network none busybox sh -c "$LOG_CMD" >/dev/null
    sleep 2
    local base peak t0 t1 t2 lines tail_ms
    base=$(rss_kb "$pid")
    t0=$(now_ms)
    "$@" logs "$NAME" >"$T/out" 2>&1 &
    local cli=$! rss
    peak=$base
    while kill -0 "$cli" 2>/dev/null; do
        rss=$(rss_kb "$pid")
        [ "$rss" -gt "$peak" ] && peak=$rss
        sleep 0.02
    done
    wait "$cli"
    local t_all
    t_all=$(now_ms)
    lines=$(awk 'END { print NR }' "$T/out")
    local runs=() i
    for i in $(seq "${TAIL_RUNS:-5}"); do
        t1=$(now_ms)
        "$@" logs --tail 10 "$NAME" >"$T/tail"
        t2=$(now_ms)
        runs+=($((t2 - t1)))
    done
    tail_ms=$(printf '%s\n' "${runs[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%d (fastest %d)", v[int((NR + 1) / 2)], v[1] }')
    [ "$(awk 'END { print NR }' "$T/tail")" -eq 10 ] || { echo "error: $engine: logs --tail 10 printed $(awk 'END { print NR }' "$T/tail") lines" >&2; exit 1; }
    printf '%-8s logs of %d MB (%d lines): %6.2f s, RSS +%6.1f MB (peak %6.1f MB)   logs --tail 10: %s ms\n' \
        "$engine" "$LOG_MB" "$lines" "$(echo "($t_all - $t0) / 1000" | bc -l)" \
        "$(echo "($peak - $base) / 1024" | bc -l)" "$(echo "$peak / 1024" | bc -l)" "$tail_ms"
    "$@" rm -f "$NAME" >/dev/null
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
    DOCKER_SOCK="$T/docker.sock"
    dockerd --bridge=none --iptables=false --ip-masq=false \
        --data-root "$T/docker" --exec-root "$T/dexec" --pidfile "$T/docker.pid" \
        -H "unix://$DOCKER_SOCK" >"$T/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    OWN_DOCKERD=1
    for _ in $(seq 300); do docker -H "unix://$DOCKER_SOCK" info >/dev/null 2>&1 && break; sleep 0.1; done
    "$WHALE" save busybox | docker -H "unix://$DOCKER_SOCK" load >/dev/null
elif curl -sf --unix-socket "$DOCKER_SOCK" http://localhost/_ping >/dev/null 2>&1; then
    # The dockerd answering there: its pid is the one holding the socket.
    DOCKERD_PID=$(pidof dockerd | awk '{print $1}')
    docker -H "unix://$DOCKER_SOCK" image inspect busybox >/dev/null 2>&1 ||
        { echo "note: dockerd has no busybox image: skipping it"; DOCKERD_PID=""; }
fi

echo
echo "== logs ($(nproc) CPUs, $(uname -r))"
measure whale "$DAEMON_PID" "$WHALE"
if [ -n "$DOCKERD_PID" ]; then
    measure dockerd "$DOCKERD_PID" docker -H "unix://$DOCKER_SOCK"
else
    echo "dockerd  (skipped: none answers on $DOCKER_SOCK; BENCH_DOCKERD=1 starts a private one)"
fi
echo
echo "reproduce: sudo ${BENCH_DOCKERD:+BENCH_DOCKERD=1 }$REPO/bench/logs.sh $LOG_MB"
