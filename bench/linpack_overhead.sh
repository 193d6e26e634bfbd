#!/bin/sh
# LINPACK on the host vs in a container: is there any overhead?
#
#   bench/linpack_overhead.sh [N] [RUNS] [REPEATS]   (default 2000 7 3)
#
# Needs a running whale daemon (WHALE_HOST / -H as usual) with the course's
# `linpack` image (`whaletutor setup 11`, or
# `whale build -t linpack lessons/images/linpack`); WHALE=path/to/whale
# picks the binary. With DOCKER_HOST set, a docker container is measured too
# (its own `linpack` image, built from the same Dockerfile:
# `docker build --network host -t linpack lessons/images/linpack`).
#
# The host runs the very same files as the container: /opt/linpack (the
# benchmark and the OpenBLAS it loads through an rpath) is exported from a
# container of the image. Each run is `linpack N REPEATS` and scores its
# best repeat; host and container runs alternate (so a neighbour's load
# hits both alike) and the median of RUNS is compared. Container runs
# include nothing of the start-up: the benchmark times its own solve.
#
# THREADS (default 1) sets OPENBLAS_NUM_THREADS on both sides: one thread
# is far less sensitive to other load on a shared machine (a multi-threaded
# LU waits at every step for its slowest thread); THREADS= (empty) lets
# OpenBLAS use every CPU.
set -eu
W=${WHALE:-whale}
N=${1:-2000}
RUNS=${2:-7}
REPEATS=${3:-3}
IMAGE=${IMAGE:-linpack}
THREADS=${THREADS-1}
if [ -n "$THREADS" ]; then
    export OPENBLAS_NUM_THREADS="$THREADS" # the host run; containers get -e
    envs="-e OPENBLAS_NUM_THREADS=$THREADS"
else
    unset OPENBLAS_NUM_THREADS
    envs=
fi
work=$(mktemp -d)
cid=
cleanup() {
    [ -z "$cid" ] || $W rm -f "$cid" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

if ! $W inspect "$IMAGE" >/dev/null 2>&1; then
    echo "no image $IMAGE on whale: build it with \`whale build -t linpack lessons/images/linpack\` (or \`whaletutor setup 11\`)" >&2
    exit 1
fi
if [ -n "${DOCKER_HOST:-}" ] && ! docker inspect "$IMAGE" >/dev/null 2>&1; then
    echo "no image $IMAGE on docker ($DOCKER_HOST): \`docker build --network host -t linpack lessons/images/linpack\`" >&2
    exit 1
fi

# The host's copy: the image's own /opt/linpack.
cid=$($W create "$IMAGE" true)
$W export "$cid" | tar -x -C "$work" opt/linpack
$W rm "$cid" >/dev/null
cid=
host_bin="$work/opt/linpack/linpack"

best() { # command... -> the best GFLOPS of one run, or a message and exit
    out=$("$@" 2>&1) || { echo "FAILED: $* -> $out" >&2; exit 1; }
    g=$(printf '%s\n' "$out" | awk '/^best / { sub("GFLOPS=", "", $5); print $5 }')
    [ -n "$g" ] || g=$(printf '%s\n' "$out" | awk '/PASSED$/ { sub("GFLOPS=", "", $4); print $4 }' | tail -1)
    [ -n "$g" ] || { echo "no GFLOPS in the output of $*: $out" >&2; exit 1; }
    echo "$g"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "LINPACK n=$N, $RUNS runs of $REPEATS repeats each (best repeat per run), ${THREADS:-all $(nproc)} OpenBLAS thread(s)"
: >"$work/host"
: >"$work/whale"
: >"$work/docker"
r=1
while [ "$r" -le "$RUNS" ]; do
    h=$(best "$host_bin" "$N" "$REPEATS")
    c=$(best $W run --rm $envs "$IMAGE" linpack "$N" "$REPEATS")
    line="run $r: host $h  whale $c"
    echo "$h" >>"$work/host"
    echo "$c" >>"$work/whale"
    if [ -n "${DOCKER_HOST:-}" ]; then
        d=$(best docker run --rm $envs "$IMAGE" linpack "$N" "$REPEATS")
        echo "$d" >>"$work/docker"
        line="$line  docker $d"
    fi
    echo "$line GFLOPS"
    r=$((r + 1))
done

host=$(median <"$work/host")
whale=$(median <"$work/whale")
printf 'median GFLOPS: host %s, whale container %s, ratio container/host %s\n' \
    "$host" "$whale" "$(ratio "$whale" "$host")"
if [ -n "${DOCKER_HOST:-}" ]; then
    docker=$(median <"$work/docker")
    printf 'median GFLOPS: host %s, docker container %s, ratio container/host %s\n' \
        "$host" "$docker" "$(ratio "$docker" "$host")"
fi
echo "reproduce: THREADS=$THREADS WHALE=$W ${DOCKER_HOST:+DOCKER_HOST=$DOCKER_HOST }bench/linpack_overhead.sh $N $RUNS $REPEATS"
