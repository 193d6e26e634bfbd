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
