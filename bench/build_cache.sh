#!/bin/sh
# Fully cached rebuild of the course's ipython Dockerfile: whale, and
# Docker's classic builder (DOCKER_BUILDKIT=0) when a Docker daemon answers.
# Median of RUNS (default 11) runs each, in milliseconds, wall clock of the
# CLI command (context upload, every step's cache lookup, tagging).
#
#   bench/build_cache.sh
#
# whale: needs a daemon (WHALE_HOST) and debian:bookworm (`whale bootstrap
# debian`); the first, uncached build installs ipython3 from the host's apt
# sources (minutes). WHALE=path/to/whale picks the binary.
# Docker: DOCKER_HOST as usual. Its cache is seeded without a registry:
# debian:bookworm and the whale-built ipython go over with `whale save |
# docker load`, and the first Docker build uses `--cache-from` that image,
# so Docker's builder reuses whale's layers (their history matches Docker's
# word for word); set DOCKER_REAL_BUILD=1 to build from scratch instead
# (needs `--network host` apt access).
set -eu
W=${WHALE:-whale}
RUNS=${RUNS:-11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'FROM debian:bookworm\nRUN apt-get update\nRUN apt-get install -y ipython3\nCMD ipython3\n' >"$work/Dockerfile"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

timed_runs() { # command...
    : >"$work/times"
    r=0
    while [ $r -lt "$RUNS" ]; do
        t=$(date +%s%N)
        "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
        ms "$t" >>"$work/times"
        grep -q 'Running in' "$work/out" && { echo "not fully cached:"; cat "$work/out"; exit 1; }
        r=$((r + 1))
    done
    median <"$work/times"
}

echo "whale: first build (uses the cache if ipython was built before)..."
$W build -t ipython "$work" >"$work/first" 2>&1 || { tail "$work/first"; exit 1; }
whale_ms=$(timed_runs $W build -t ipython "$work")
echo "whale  cached rebuild: median ${whale_ms} ms of $RUNS"

if docker version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
    docker image inspect debian:bookworm >/dev/null 2>&1 || $W save debian:bookworm | docker load >/dev/null
    if [ "${DOCKER_REAL_BUILD:-0}" = 1 ]; then
        set -- --network host
    else
        docker image inspect ipython-whale-seed >/dev/null 2>&1 || {
            $W save ipython | docker load >/dev/null
            docker tag ipython ipython-whale-seed
        }
        # Loaded images have no parent chain: Docker finds them as cache
        # only through --cache-from, on every build.
        set -- --cache-from ipython-whale-seed
    fi
    docker build "$@" -t ipython-docker "$work" >"$work/first" 2>&1 || { tail "$work/first"; exit 1; }
    docker_ms=$(timed_runs docker build "$@" -t ipython-docker "$work")
    echo "docker cached rebuild (classic builder): median ${docker_ms} ms of $RUNS"
else
    echo "docker: no daemon answers (DOCKER_HOST=${DOCKER_HOST:-unset}); skipped"
fi
