#!/bin/sh
# LINPACK on the host vs in a container: is there any overhead?
#
#   bench/linpack_overhead.sh [N] [RUNS] [REPEATS]   (default 2000 7 3)
#
# ENGINES picks the container engines, in order (default: whale, plus
# docker when DOCKER_HOST is set; ENGINES=docker for docker alone). Each
# needs the course's `linpack` image:
#   whale build -t linpack lessons/images/linpack        (or whaletutor setup 11)
#   docker build --network host -t linpack lessons/images/linpack
# whale is reached as usual (WHALE_HOST / its default socket), docker
# through DOCKER_HOST; WHALE=path/to/whale picks whale's binary.
#
# The host runs the very same files as the containers: /opt/linpack (the
# benchmark, linked statically with its OpenBLAS) is exported from a
# container of the first engine's image. Each run is `linpack N REPEATS`
# and scores its best repeat; host and container runs alternate (so a
# neighbour's load hits both alike) and the medians of RUNS are compared.
# Container start-up is not in the numbers: the benchmark times its own
# solve.
#
# THREADS (default 1) sets OPENBLAS_NUM_THREADS on both sides: one thread
# is far less sensitive to other load on a shared machine (a multi-threaded
# LU waits at every step for its slowest thread); THREADS= (empty) lets
# OpenBLAS use every CPU. On a busy machine the ratio says more about the
# neighbours than about containers: engines put containers in their own
# cgroup (whale/, docker/), which shares the CPU with everything else in a
# different way than a plain host process does. Measure on a quiet one.
set -eu
N=${1:-2000}
RUNS=${2:-7}
REPEATS=${3:-3}
IMAGE=${IMAGE:-linpack}
WHALE=${WHALE:-whale}
if [ -z "${ENGINES:-}" ]; then
    ENGINES=whale
    [ -z "${DOCKER_HOST:-}" ] || ENGINES="whale docker"
fi
THREADS=${THREADS-1}
if [ -n "$THREADS" ]; then
    export OPENBLAS_NUM_THREADS="$THREADS" # the host run; containers get -e
    envs="-e OPENBLAS_NUM_THREADS=$THREADS"
else
    unset OPENBLAS_NUM_THREADS
    envs=
fi

cli() { # engine -> its command
    case "$1" in
    whale) echo "$WHALE" ;;
    docker) echo docker ;;
    *)
        echo "unknown engine '$1' in ENGINES (whale or docker)" >&2
        exit 2
        ;;
    esac
}

work=$(mktemp -d)
cid=
first=
cleanup() {
    [ -z "$cid" ] || $(cli "$first") rm -f "$cid" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

for e in $ENGINES; do
    c=$(cli "$e")
    [ -n "$first" ] || first=$e
    if ! $c inspect "$IMAGE" >/dev/null 2>&1; then
        echo "no image $IMAGE on $e: \`$c build --network host -t linpack lessons/images/linpack\` (or \`whaletutor setup 11\`)" >&2
        exit 1
    fi
done

# The host's copy: the image's own /opt/linpack.
cid=$($(cli "$first") create "$IMAGE" true)
$(cli "$first") export "$cid" | tar -x -C "$work" opt/linpack
$(cli "$first") rm "$cid" >/dev/null
cid=
host_bin="$work/opt/linpack/linpack"

best() { # command... -> the best GFLOPS of one run, or a message and exit
    out=$("$@" 2>&1) || {
        echo "FAILED: $* -> $out" >&2
        exit 1
    }
    g=$(printf '%s\n' "$out" | awk '/^best / { sub("GFLOPS=", "", $5); print $5 }')
    [ -n "$g" ] || g=$(printf '%s\n' "$out" | awk '/PASSED$/ { sub("GFLOPS=", "", $4); print $4 }' | tail -1)
    [ -n "$g" ] || {
        echo "no GFLOPS in the output of $*: $out" >&2
        exit 1
    }
    echo "$g"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maximum() { sort -g | tail -1; }

echo "LINPACK n=$N, $RUNS runs of $REPEATS repeats each (best repeat per run), ${THREADS:-all $(nproc)} OpenBLAS thread(s); host vs $ENGINES"
: >"$work/host"
for e in $ENGINES; do : >"$work/$e"; done
r=1
while [ "$r" -le "$RUNS" ]; do
    h=$(best "$host_bin" "$N" "$REPEATS")
    echo "$h" >>"$work/host"
    line="run $r: host $h"
    for e in $ENGINES; do
        g=$(best $(cli "$e") run --rm $envs "$IMAGE" linpack "$N" "$REPEATS")
        echo "$g" >>"$work/$e"
        line="$line  $e $g"
    done
    echo "$line GFLOPS"
    r=$((r + 1))
done

# The median is the headline; the best run (LINPACK's Rmax) is the speed
# with the least interference, a check on the median when neighbours are busy.
host=$(median <"$work/host")
hbest=$(maximum <"$work/host")
for e in $ENGINES; do
    m=$(median <"$work/$e")
    b=$(maximum <"$work/$e")
    printf 'median GFLOPS: host %s, %s container %s, ratio container/host %s\n' \
        "$host" "$e" "$m" "$(ratio "$m" "$host")"
    printf '  best GFLOPS: host %s, %s container %s, ratio container/host %s\n' \
        "$hbest" "$e" "$b" "$(ratio "$b" "$hbest")"
done
echo "reproduce: ENGINES=\"$ENGINES\" THREADS=$THREADS WHALE=$WHALE${DOCKER_HOST:+ DOCKER_HOST=$DOCKER_HOST} bench/linpack_overhead.sh $N $RUNS $REPEATS"
