#!/usr/bin/env bash
# The image store as it grows (issue 13), whale beside Docker measured in the
# same run:
#
#   index  a 1-step build (FROM busybox, RUN echo N > /n) in a fresh store,
#          then among STORE_IMAGES (default 300) more images: median of RUNS
#          (default 7) builds, and the daemon's openat calls during one build
#          (strace), all of them and those of image configs;
#   layer  the build of one 512 MB layer (RUN dd ... bs=1M count=512),
#          median of LAYER_RUNS (default 3), beside `dd` writing the same
#          512 MB on the same file system (the floor);
#   disk   the store size of a Debian image with a 256 MB layer on top:
#          `du` of the image's layer dirs (whale: image/layers/<diff_id>;
#          Docker: overlay2/<cache id> and layerdb/sha256/<chain id>, where
#          it keeps the tar-split), and whale's whole image dir.
#
# Usage (as root, from anywhere in the repo):
#   bench/image_store.sh [index|layer|disk|all]      (default all)
#
# whale: a release build and a private daemon on /var/tmp/whale-store.XXXXXX,
# removed at the end; busybox from the host's static busybox; Debian from
# mmdebstrap (`whale bootstrap debian`, a few minutes; DEBIAN_TAR=rootfs.tar
# imports a ready rootfs tarball instead).
# Docker: the dockerd at DOCKER_HOST or the default socket, classic builder
# (DOCKER_BUILDKIT=0), --network none; its base images come from whale
# (`whale save | docker load`); everything it gets is named whale-store-bench*
# and removed at the end. Skipped when no dockerd answers.
set -euo pipefail
WHAT=${1:-all}
RUNS=${RUNS:-7}
LAYER_RUNS=${LAYER_RUNS:-3}
STORE_IMAGES=${STORE_IMAGES:-300}
export DOCKER_BUILDKIT=0
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root: builds run containers" >&2
    exit 1
fi
case $WHAT in index | layer | disk | all) ;; *)
    echo "usage: bench/image_store.sh [index|layer|disk|all]" >&2
    exit 2
    ;;
esac

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
bench_setup store
DAEMON_PID=""
DOCKER_OK=""
docker info >/dev/null 2>&1 && DOCKER_OK=1

cleanup() {
    set +e
    if [ -n "$DOCKER_OK" ]; then
        docker ps -aq --filter name=whale-store-bench | xargs -r docker rm -f >/dev/null 2>&1
        docker images --format '{{.Repository}}:{{.Tag}}' | grep '^whale-store-bench' |
            xargs -r docker rmi -f >/dev/null 2>&1
        # The images the builds left untagged (by id: the shared dockerd is
        # never pruned).
        [ -f "$T/docker-ids" ] && xargs -r docker rmi -f <"$T/docker-ids" >/dev/null 2>&1
    fi
    if [ -n "$DAEMON_PID" ]; then
        kill "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    kill_leftovers "$WHALE_ROOT" "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ctx=$T/ctx
mkdir -p "$ctx"

# start_daemon [strace]: the whale daemon, under `strace -f -e openat`
# (writing $T/strace.out) when asked: strace may start it but not attach.
start_daemon() {
    if [ "${1:-}" = strace ]; then
        strace -f -qq -e trace=openat -o "$T/strace.out" \
            "$WHALE" daemon --root "$WHALE_ROOT" -H "$WHALE_HOST" >>"$T/daemon.log" 2>&1 &
        local sp=$!
        DAEMON_PID=""
        # The daemon is strace's child: stopping it ends strace too.
        for _ in $(seq 100); do
            DAEMON_PID=$(pgrep -P "$sp" | head -1) && [ -n "$DAEMON_PID" ] && break
            sleep 0.05
        done
    else
        "$WHALE" daemon --root "$WHALE_ROOT" -H "$WHALE_HOST" >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
    fi
    for _ in $(seq 200); do
        "$WHALE" version >/dev/null 2>&1 && return
        sleep 0.05
    done
    echo "error: the whale daemon did not start:" >&2
    cat "$T/daemon.log" >&2
    exit 1
}
stop_daemon() {
    kill "$DAEMON_PID"
    for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    DAEMON_PID=""
}

echo "==> whale daemon on $T"
start_daemon
"$WHALE" bootstrap busybox >/dev/null
[ -z "$DOCKER_OK" ] && echo "(no dockerd answers: Docker's figures are skipped)"
if [ -n "$DOCKER_OK" ]; then
    "$WHALE" tag busybox:latest whale-store-bench-busybox:latest
    "$WHALE" save whale-store-bench-busybox:latest | docker load >/dev/null
fi

# build ENGINE TAG: build $ctx, print its wall time in ms.
build() {
    local t
    t=$(date +%s%N)
    if [ "$1" = whale ]; then
        "$WHALE" build -q --network none -t "$2" "$ctx" >"$T/build.out" 2>&1 || { cat "$T/build.out"; exit 1; }
    else
        docker build -q --network none -t "$2" "$ctx" >"$T/build.out" 2>&1 || { cat "$T/build.out"; exit 1; }
        tail -1 "$T/build.out" >>"$T/docker-ids"
    fi
    ms_since "$t"
}

# one_step_builds ENGINE: median ms of RUNS uncached 1-step builds.
one_step_builds() {
    local i
    for i in $(seq "$RUNS"); do
        printf 'FROM whale-store-bench-busybox:latest\nRUN echo %s-%s > /n\n' "$i" "$RANDOM$RANDOM" >"$ctx/Dockerfile"
        build "$1" whale-store-bench-step:latest
    done | median
}

# opens_of_one_build: the whale daemon's openat calls during one build
# (all its threads and children, the RUN container's own included), with
# the daemon restarted under strace and one build first (the index is read
# in full once, when the store opens): sets OPENS to "all N, of configs M".
opens_of_one_build() {
    stop_daemon
    start_daemon strace
    printf 'FROM whale-store-bench-busybox:latest\nRUN echo warm-%s > /n\n' "$RANDOM$RANDOM" >"$ctx/Dockerfile"
    build whale whale-store-bench-step:latest >/dev/null
    sleep 0.5
    local all0 cfg0
    all0=$(grep -c openat "$T/strace.out")
    cfg0=$(grep -c '/configs/' "$T/strace.out")
    printf 'FROM whale-store-bench-busybox:latest\nRUN echo strace-%s > /n\n' "$RANDOM$RANDOM" >"$ctx/Dockerfile"
    build whale whale-store-bench-step:latest >/dev/null
    sleep 0.5
    OPENS="all $(($(grep -c openat "$T/strace.out") - all0)), of configs $(($(grep -c '/configs/' "$T/strace.out") - cfg0))"
    stop_daemon
    start_daemon
}

# import_images ENGINE N: N one-file images.
import_images() {
    local i d=$T/imp
    mkdir -p "$d"
    for i in $(seq "$2"); do
        echo "$i" >"$d/f"
        if [ "$1" = whale ]; then
            tar -C "$d" -c f | "$WHALE" import - "whale-store-bench-filler:$i" >/dev/null
        else
            tar -C "$d" -c f | docker import - "whale-store-bench-filler:$i" >/dev/null
        fi
    done
}

if [ "$WHAT" = index ] || [ "$WHAT" = all ]; then
    echo
    echo "== index: a 1-step build, median of $RUNS ($(nproc) CPUs, $(uname -r))"
    w_fresh=$(one_step_builds whale)
    opens_of_one_build
    w_fresh_opens=$OPENS
    if [ -n "$DOCKER_OK" ]; then
        d_before=$(docker images -aq | wc -l)
        d_fresh=$(one_step_builds docker)
    fi
    echo "   adding $STORE_IMAGES images to each store..."
    import_images whale "$STORE_IMAGES"
    [ -n "$DOCKER_OK" ] && import_images docker "$STORE_IMAGES"
    w_full=$(one_step_builds whale)
    opens_of_one_build
    w_full_opens=$OPENS
    n=$("$WHALE" images -aq | wc -l)
    printf '   whale, fresh store:            %5d ms   (openat in one build: %s)\n' "$w_fresh" "$w_fresh_opens"
    printf '   whale, among %4d images:       %5d ms   (openat in one build: %s)   ratio %s\n' "$n" "$w_full" "$w_full_opens" \
        "$(echo "scale=2; $w_full / $w_fresh" | bc)"
    if [ -n "$DOCKER_OK" ]; then
        d_full=$(one_step_builds docker)
        printf '   docker, with %4d images:       %5d ms\n' "$d_before" "$d_fresh"
        printf '   docker, with %4d images:       %5d ms   ratio %s\n' "$(docker images -aq | wc -l)" "$d_full" \
            "$(echo "scale=2; $d_full / $d_fresh" | bc)"
    fi
    echo "   goal: whale among $STORE_IMAGES images within 1.5x of the fresh store"
fi

if [ "$WHAT" = layer ] || [ "$WHAT" = all ]; then
    echo
    echo "== layer: a build of one 512 MB layer, median of $LAYER_RUNS"
    printf 'FROM whale-store-bench-busybox:latest\nRUN dd if=/dev/zero of=/big bs=1M count=512 2>/dev/null\n' >"$ctx/Dockerfile"
    floor=$(for _ in $(seq "$LAYER_RUNS"); do
        sync
        t=$(date +%s%N)
        dd if=/dev/zero of="$T/dd.out" bs=1M count=512 2>/dev/null
        ms_since "$t"
        rm -f "$T/dd.out"
    done | median)
    w=$(for i in $(seq "$LAYER_RUNS"); do
        sync
        build whale "whale-store-bench-big:$i"
        "$WHALE" rmi "whale-store-bench-big:$i" >/dev/null
    done | median)
    printf '   dd of 512 MB (the floor):      %5d ms\n' "$floor"
    printf '   whale build:                   %5d ms   (%s x the floor)\n' "$w" "$(echo "scale=2; $w / $floor" | bc)"
    if [ -n "$DOCKER_OK" ]; then
        d=$(for i in $(seq "$LAYER_RUNS"); do
            sync
            build docker "whale-store-bench-big:$i"
            docker rmi "whale-store-bench-big:$i" >/dev/null
        done | median)
        printf '   docker build:                  %5d ms   (%s x the floor)   whale/docker %s\n' "$d" \
            "$(echo "scale=2; $d / $floor" | bc)" "$(echo "scale=2; $w / $d" | bc)"
    fi
    echo "   goal: whale no slower than Docker"
fi

# du_k PATH...: kB on disk, hard links once.
du_k() { du -sck "$@" | awk 'END {print $1}'; }

if [ "$WHAT" = disk ] || [ "$WHAT" = all ]; then
    echo
    echo "== disk: a Debian image with a 256 MB layer on top"
    if [ -n "${DEBIAN_TAR:-}" ]; then
        "$WHALE" import "$DEBIAN_TAR" debian:bookworm >/dev/null
    else
        echo "   whale bootstrap debian (mmdebstrap, a few minutes)..."
        "$WHALE" bootstrap debian >"$T/debian.log" 2>&1 || { tail "$T/debian.log"; exit 1; }
    fi
    "$WHALE" tag debian:bookworm whale-store-bench-debian:bookworm
    printf 'FROM whale-store-bench-debian:bookworm\nRUN dd if=/dev/zero of=/big bs=1M count=256 2>/dev/null\n' >"$ctx/Dockerfile"
    build whale whale-store-bench-deb:big >/dev/null
    dirs=()
    for d in $("$WHALE" inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' whale-store-bench-deb:big); do
        dirs+=("$WHALE_ROOT/image/layers/${d#sha256:}")
    done
    w=$(du_k "${dirs[@]}")
    printf '   whale:  %7d kB in its %d layer dirs (whole image dir: %d kB)\n' "$w" "${#dirs[@]}" "$(du_k "$WHALE_ROOT/image")"
    if [ -n "$DOCKER_OK" ]; then
        "$WHALE" save whale-store-bench-debian:bookworm | docker load >/dev/null
        build docker whale-store-bench-deb:big >/dev/null
        droot=$(docker info -f '{{.DockerRootDir}}')
        dirs=()
        for d in $(docker inspect -f '{{.GraphDriver.Data.UpperDir}} {{.GraphDriver.Data.LowerDir}}' whale-store-bench-deb:big | tr ': ' '\n\n'); do
            case $d in /*) dirs+=("$(dirname "$d")") ;; esac
        done
        chain=""
        for d in $(docker inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' whale-store-bench-deb:big); do
            if [ -z "$chain" ]; then chain=$d; else chain="sha256:$(printf '%s %s' "$chain" "$d" | sha256sum | cut -d' ' -f1)"; fi
            dirs+=("$droot/image/overlay2/layerdb/sha256/${chain#sha256:}")
        done
        dk=$(du_k "${dirs[@]}")
        printf '   docker: %7d kB in its overlay2 and layerdb dirs              whale/docker %s\n' "$dk" "$(echo "scale=2; $w / $dk" | bc)"
    fi
    echo "   goal: whale <= 1.1x Docker"
fi
echo
echo "reproduce: bench/image_store.sh $WHAT"
