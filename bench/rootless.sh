#!/usr/bin/env bash
# Rootless start-up benchmark (not a test): the median wall time of
# `whale run --rm busybox true` run by a normal user (whale rootless, in the
# user's user namespace), beside root's whale and, when Debian's podman is
# installed, rootless `podman run --rm --network none` of the same busybox,
# in the same run on the same machine.
#
# Usage (as root, from anywhere in the repo):
#   bench/rootless.sh [RUNS]      # RUNS >= 30, default 50
#
# The normal user is made for the run (useradd grants it Debian's usual
# 65536 subordinate ids) and removed at the end with every process it left;
# its HOME, XDG dirs and the release binary live under one temp dir. Each
# engine's loop runs as that engine's user (one setpriv for the whole loop,
# not one per run), so no engine pays for a helper the others do not.
# podman runs with `--network none` (as /etc/containers/containers.conf
# says here: no slirp4netns, no bridge), from the host's static busybox
# imported as `localhost/whale-bench-busybox`.
set -euo pipefail

RUNS=${1:-50}
WARMUP=5
if [ "$RUNS" -lt 30 ]; then
    echo "error: RUNS must be at least 30 (got $RUNS)" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root: it makes a normal user for the rootless runs, and runs root's whale beside it" >&2
    exit 1
fi
for tool in curl setpriv useradd newuidmap; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (apt-get install curl util-linux passwd uidmap)" >&2; exit 1; }
done

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_setup rootless
chmod 755 "$T"
BENCH_USER="wbench$$"
USER_UID=""
SUB_START=0
SUB_COUNT=0
DAEMON_PID=""

# The bench user's processes (its own uid and its subordinate ids): daemon,
# shims, containers, podman's pause process. Each is killed by its pid.
user_pids() {
    local p uid
    for p in /proc/[0-9]*; do
        uid=$(stat -c %u "$p" 2>/dev/null) || continue
        if [ "$uid" = "$USER_UID" ] || { [ "$uid" -ge "$SUB_START" ] && [ "$uid" -lt "$((SUB_START + SUB_COUNT))" ]; }; then
            echo "${p#/proc/}"
        fi
    done
}

cleanup() {
    set +e
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        ids=$("$WHALE" ps -aq 2>/dev/null)
        [ -n "$ids" ] && "$WHALE" rm -f $ids >/dev/null 2>&1
        kill "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DAEMON_PID" 2>/dev/null
    fi
    if [ -n "$USER_UID" ]; then
        for _ in $(seq 30); do
            pids=$(user_pids)
            [ -z "$pids" ] && break
            kill -9 $pids 2>/dev/null
            sleep 0.1
        done
        usermod --del-subuids "$SUB_START-$((SUB_START + SUB_COUNT - 1))" \
            --del-subgids "$SUB_START-$((SUB_START + SUB_COUNT - 1))" "$BENCH_USER" 2>/dev/null
        userdel "$BENCH_USER" 2>/dev/null
    fi
    kill_leftovers "$WHALE_ROOT" "$T"
}
trap cleanup EXIT INT TERM

echo "==> user $BENCH_USER with subordinate ids, its world under $T/u"
U="$T/u"
mkdir -p "$U/bin"
useradd --no-create-home --home-dir "$U/home" --shell /bin/sh "$BENCH_USER"
USER_UID=$(id -u "$BENCH_USER")
IFS=: read -r _ SUB_START SUB_COUNT < <(grep "^$BENCH_USER:" /etc/subuid | head -1) || true
if [ "${SUB_COUNT:-0}" -eq 0 ]; then
    echo "error: useradd granted $BENCH_USER no subordinate ids (SUB_UID_COUNT in /etc/login.defs)" >&2
    exit 1
fi
cp "$WHALE" "$U/bin/whale"
for d in home run tmp; do
    install -d -m 700 -o "$BENCH_USER" -g "$BENCH_USER" "$U/$d"
done
# The timing loop, run by each engine's own user: µs per run on stdout.
cat >"$U/bin/time-runs" <<'EOF'
#!/usr/bin/env bash
runs=$1 warmup=$2
shift 2
for ((i = 0; i < warmup; i++)); do "$@" >/dev/null 2>&1 || { echo "error: warm-up failed: $*" >&2; "$@" >&2; exit 1; }; done
for ((i = 0; i < runs; i++)); do
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || { echo "error: run $i failed: $*" >&2; exit 1; }
    t1=$EPOCHREALTIME
    echo $(( (${t1/./} - ${t0/./}) ))
done
EOF
chmod 755 "$U/bin/time-runs"

as_user() {
    setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --clear-groups -- \
        env -i HOME="$U/home" USER="$BENCH_USER" LOGNAME="$BENCH_USER" \
        XDG_RUNTIME_DIR="$U/run" TMPDIR="$U/tmp" PATH="$U/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        "$@"
}

# Prints median and p90 (ms) of the numbers (µs) given on stdin.
stats() {
    sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        p = v[int(NR * 0.9 + 0.999999)];
        printf "median %7.2f ms   p90 %7.2f ms   min %7.2f ms   (n=%d)\n", m / 1000, p / 1000, v[1] / 1000, NR }'
}
label() { sed "s/^/$(printf '%-56s' "$1")/"; }

echo "==> root's whale daemon on $T"
"$WHALE" daemon --root "$WHALE_ROOT" -H "$WHALE_HOST" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do
    curl -sf --unix-socket "$T/whale.sock" http://localhost/_ping >/dev/null 2>&1 && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "error: whale daemon died:" >&2; cat "$T/daemon.log" >&2; exit 1; }
    sleep 0.05
done
"$WHALE" bootstrap busybox >/dev/null 2>&1 || { echo "error: whale bootstrap busybox failed (is busybox-static installed?)" >&2; exit 1; }

echo "==> rootless whale as $BENCH_USER (its daemon started by its first command)"
as_user whale bootstrap busybox >"$T/rootless-bootstrap.log" 2>&1 ||
    { echo "error: rootless whale bootstrap busybox failed:" >&2; cat "$T/rootless-bootstrap.log" >&2; exit 1; }
as_user whale info 2>/dev/null | grep -iE 'rootless|Docker Root Dir' | sed 's/^/    /' || true

PODMAN=""
if command -v podman >/dev/null 2>&1; then
    echo "==> rootless podman as $BENCH_USER (--network none), busybox imported"
    mkdir -p "$U/bb/bin"
    cp /bin/busybox "$U/bb/bin/busybox"
    for a in sh true; do ln -s busybox "$U/bb/bin/$a"; done
    if tar -C "$U/bb" -c . | as_user podman import - localhost/whale-bench-busybox >"$T/podman-import.log" 2>&1; then
        PODMAN=podman
    else
        echo "    podman import failed (skipped):"; sed 's/^/    /' "$T/podman-import.log"
    fi
fi

echo
echo "== start-up: $RUNS timed runs each after $WARMUP warm-up runs ($(nproc) CPUs, $(uname -r))"
"$U/bin/time-runs" "$RUNS" "$WARMUP" "$WHALE" run --rm busybox true | stats | label "root whale run --rm busybox true"
# The rootless daemon's socket and store are the user's defaults: no -H.
as_user time-runs "$RUNS" "$WARMUP" whale run --rm busybox true |
    stats | label "rootless whale run --rm busybox true"
if [ -n "$PODMAN" ]; then
    as_user time-runs "$RUNS" "$WARMUP" podman run --rm --network none localhost/whale-bench-busybox true |
        stats | label "rootless podman run --rm --network none busybox true"
else
    echo "rootless podman run --rm --network none busybox true  (skipped: podman is not installed: apt-get install podman)"
fi
echo
echo "reproduce: sudo $REPO/bench/rootless.sh $RUNS"
