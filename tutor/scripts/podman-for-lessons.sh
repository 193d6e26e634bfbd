#!/bin/sh
# Start Debian's podman (4.3) as a Docker API service on a private socket,
# with its own storage, for `whaletutor verify --engine docker -H ...`, and
# give it the course's base images (imported, as dockerd-for-lessons.sh
# does: no registry).
#
#   tutor/scripts/podman-for-lessons.sh start DIR   # prints DOCKER_HOST=...
#   tutor/scripts/podman-for-lessons.sh stop DIR
#
# No container ever gets a network other than `none` or `host`: the
# containers.conf written here sets netns = "none". That is not enough: the
# Docker API maps a create's NetworkMode "default" to podman's bridge, and
# netavark would make podman0 with 10.88.0.0/16 (and iptables rules). So
# the network backend is CNI, its plugins are looked up only in DIR/cni,
# which holds the `loopback` plugin and nothing else, and the default
# network `podman` is defined as loopback only: a "bridge" container gets a
# netns of its own with `lo` up, as on whale, and no bridge plugin exists
# that could make an address.
set -eu
cmd=${1:?usage: $0 start|stop DIR}
dir=${2:?usage: $0 start|stop DIR}
sock="$dir/podman.sock"
export CONTAINERS_CONF="$dir/containers.conf"
export CONTAINERS_STORAGE_CONF="$dir/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$dir/registries.conf"
export XDG_RUNTIME_DIR="$dir/run"
export XDG_CONFIG_HOME="$dir/config"
podman_() {
    podman --root "$dir/storage" --runroot "$dir/runroot" "$@"
}
# soft:hard of one of this process's limits, as /proc names it, at most $2
# (podman lowers its own RLIMIT_NPROC to 32768, and runc, started by it,
# cannot raise a container's limit above that without CAP_SYS_RESOURCE).
limit() {
    awk -v n="$1" -v m="${2:-0}" 'index($0, n) == 1 {
        sub(n, ""); s = $1; h = $2
        if (m > 0 && (s == "unlimited" || s > m)) s = m
        if (m > 0 && (h == "unlimited" || h > m)) h = m
        print s ":" h
    }' /proc/self/limits
}
case "$cmd" in
start)
    command -v podman >/dev/null || { echo "install podman first (apt-get install podman)" >&2; exit 1; }
    mkdir -p "$dir/run" "$dir/config" "$dir/storage" "$dir/runroot"
    [ -x /usr/lib/cni/loopback ] || { echo "install containernetworking-plugins first (its loopback plugin)" >&2; exit 1; }
    cat >"$CONTAINERS_CONF" <<EOF
[containers]
netns = "none"
userns = "host"
ipcns = "private"
utsns = "private"
cgroupns = "private"
log_driver = "k8s-file"
# podman raises RLIMIT_NOFILE and RLIMIT_NPROC by default, above what this
# machine's hard limit may allow (runc then fails with "error setting
# rlimits"): ask for what the service itself has.
default_ulimits = ["nofile=$(limit 'Max open files')", "nproc=$(limit 'Max processes' 32768)"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
network_cmd_options = []
tmp_dir = "$dir/tmp"

[network]
network_backend = "cni"
cni_plugin_dirs = ["$dir/cni"]
network_config_dir = "$dir/networks"
default_network = "podman"
EOF
    mkdir -p "$dir/cni" "$dir/networks"
    ln -sf /usr/lib/cni/loopback "$dir/cni/loopback"
    printf '%s\n' '{"cniVersion": "0.4.0", "name": "podman", "plugins": [{"type": "loopback"}]}' \
        >"$dir/networks/podman.conflist"
    cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/runroot"
EOF
    printf 'unqualified-search-registries = []\n' >"$CONTAINERS_REGISTRIES_CONF"
    mkdir -p "$dir/tmp"
    if [ ! -f "$dir/podman.pid" ] || ! kill -0 "$(cat "$dir/podman.pid")" 2>/dev/null; then
        # Not through podman_: $! must be podman itself, for `stop`.
        podman --root "$dir/storage" --runroot "$dir/runroot" \
            system service --time 0 "unix://$sock" >"$dir/podman.log" 2>&1 &
        echo $! >"$dir/podman.pid"
    fi
    export DOCKER_HOST="unix://$sock"
    i=0
    # Connect and ping: a socket file alone proves nothing.
    until curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 150 ]; then
            echo "podman system service did not answer; see $dir/podman.log" >&2
            exit 1
        fi
        sleep 0.2
    done
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
        tar -C "$rootfs" -c . | podman_ import --change 'CMD ["sh"]' - docker.io/library/busybox:latest >/dev/null
        rm -rf "$rootfs"
    fi
    if [ "${NO_DEBIAN:-}" != 1 ] && ! docker image inspect debian:bookworm >/dev/null 2>&1; then
        command -v mmdebstrap >/dev/null || { echo "install mmdebstrap first (apt-get install mmdebstrap)" >&2; exit 1; }
        mmdebstrap --quiet --variant=apt --format=tar bookworm - |
            podman_ import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                --change 'CMD ["bash"]' - docker.io/library/debian:bookworm >/dev/null
    fi
    echo "DOCKER_HOST=unix://$sock"
    ;;
stop)
    if [ -f "$dir/podman.pid" ]; then
        podman_ rm -af -t 1 >/dev/null 2>&1 || true
        kill "$(cat "$dir/podman.pid")" 2>/dev/null || true
        i=0
        while kill -0 "$(cat "$dir/podman.pid")" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        rm -f "$dir/podman.pid"
    fi
    # conmon stays up to 5 minutes after an exec (--exit-delay 300), even
    # for a removed container: end every process started for DIR (its path
    # is unique to this service) by its PID.
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        # A process may end while we look: its cmdline is gone (quietly).
        if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF "$dir/"; then
            kill "${p#/proc/}" 2>/dev/null || true
        fi
    done
    # Unmount what podman's storage left mounted, so DIR can be removed.
    podman_ system reset -f >/dev/null 2>&1 || true
    grep -o " $dir[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
