#!/bin/sh
# Start a private dockerd 20.10 for `whaletutor verify --engine docker` and
# give it the course's base images (no registry: busybox is imported from
# the host's static busybox and debian:bookworm from mmdebstrap, as
# `whale bootstrap` does).
#
#   tutor/scripts/dockerd-for-lessons.sh start DIR   # prints DOCKER_HOST=...
#   tutor/scripts/dockerd-for-lessons.sh stop DIR
#
# The daemon never creates a bridge, iptables rules or private addresses.
set -eu
cmd=${1:?usage: $0 start|stop DIR}
dir=${2:?usage: $0 start|stop DIR}
sock="$dir/docker.sock"
case "$cmd" in
start)
    mkdir -p "$dir"
    if [ ! -S "$sock" ]; then
        dockerd --bridge=none --iptables=false --ip-masq=false \
            -H "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
            --pidfile "$dir/dockerd.pid" >"$dir/dockerd.log" 2>&1 &
        i=0
        until DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; do
            i=$((i + 1))
            if [ "$i" -gt 150 ]; then
                echo "dockerd did not start; see $dir/dockerd.log" >&2
                exit 1
            fi
            sleep 0.2
        done
    fi
    export DOCKER_HOST="unix://$sock"
    if ! docker image inspect busybox:latest >/dev/null 2>&1; then
        bb=$(command -v busybox || true)
        [ -n "$bb" ] || { echo "install busybox-static first (apt-get install busybox-static)" >&2; exit 1; }
        rootfs=$(mktemp -d)
        mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
        cp "$bb" "$rootfs/bin/busybox"
        for app in $("$bb" --list); do
            [ "$app" = busybox ] || ln -s busybox "$rootfs/bin/$app"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
        printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
        tar -C "$rootfs" -c . | docker import --change 'CMD ["sh"]' - busybox:latest >/dev/null
        rm -rf "$rootfs"
    fi
    # debian:bookworm as `whale bootstrap debian` makes it: mmdebstrap from
    # the host's apt sources (skip with NO_DEBIAN=1).
    if [ "${NO_DEBIAN:-}" != 1 ] && ! docker image inspect debian:bookworm >/dev/null 2>&1; then
        command -v mmdebstrap >/dev/null || { echo "install mmdebstrap first (apt-get install mmdebstrap)" >&2; exit 1; }
        # --skip=output/dev: no device nodes in the layer, as in Docker Hub's
        # debian (whale's extraction refuses them, so an image with them
        # could not go from this dockerd to whale through a registry).
        mmdebstrap --quiet --variant=apt --format=tar --skip=output/dev bookworm - |
            docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                --change 'CMD ["bash"]' - debian:bookworm >/dev/null
    fi
    echo "DOCKER_HOST=unix://$sock"
    ;;
stop)
    if [ -f "$dir/dockerd.pid" ]; then
        export DOCKER_HOST="unix://$sock"
        ids=$(docker ps -aq 2>/dev/null || true)
        [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
        kill "$(cat "$dir/dockerd.pid")" 2>/dev/null || true
        i=0
        while [ -f "$dir/dockerd.pid" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    # dockerd leaves its default network namespace bind-mounted under the
    # exec root: unmount it so the directory can be removed.
    for m in "$dir"/exec/netns/*; do
        [ -e "$m" ] && umount "$m" 2>/dev/null || true
    done
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
