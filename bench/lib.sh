# Shared by the bench scripts (sourced, not run).

# kill_leftovers ROOT TMP: kill whatever still holds a bench's store (a
# daemon the CLI restarted, a shim), unmount what is left under TMP, and
# remove TMP.
kill_leftovers() {
    local root=$1 tmp=$2 p
    for p in /proc/[0-9]*; do
        if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "WHALE_ROOT=$root" ||
            { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -q "^$tmp"; then
            kill -9 "${p#/proc/}" 2>/dev/null
        fi
    done
    grep " $tmp" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$tmp"
}

# bench_setup NAME: build whale (release) and make a private store and socket
# under a new /var/tmp/whale-NAME.XXXXXX; sets WHALE, T, WHALE_ROOT, WHALE_HOST.
bench_setup() {
    cd "$REPO"
    echo "==> cargo build --release -p whale"
    cargo build --release -q -p whale --bin whale
    WHALE="$REPO/target/release/whale"
    T=$(mktemp -d "/var/tmp/whale-$1.XXXXXX")
    export WHALE_ROOT="$T/r"
    export WHALE_HOST="unix://$T/whale.sock"
    mkdir -p "$WHALE_ROOT"
}
