#!/bin/sh
# Deep layer stacks: build images of 1, 127 and MAX layers and time file
# lookups through them.
#
#   bench/deep_layers.sh [MAX]        (default MAX=499: the kernel stacks 500 and a container adds one)
#
# Needs a running whale daemon (WHALE_HOST / -H as usual) and busybox:latest
# (`whale bootstrap busybox`). WHALE=path/to/whale picks the binary.
#
# The bottom layer holds FILES empty files at /; every layer above adds one
# small file. In a fresh container (fresh overlay mount, cold dentries) each
# `[ -e /bN ]` of a distinct name makes overlayfs look the name up in every
# layer from the top down until it reaches the bottom one, so the cost grows
# with the depth. A negative lookup (`/nN`, in no layer) pays for every layer
# too. Times are taken inside the container from /proc/uptime (10 ms steps),
# the loop's own cost (a cached name) is subtracted; median of RUNS.
set -eu
W=${WHALE:-whale}
MAX=${1:-499}
FILES=${FILES:-5000}
RUNS=${RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# depth 1: busybox's rootfs plus the files, as one imported layer.
cid=$($W create busybox true)
mkdir "$work/rootfs"
$W export "$cid" | tar -C "$work/rootfs" -xf -
$W rm "$cid" >/dev/null
i=0
while [ $i -lt "$FILES" ]; do : >"$work/rootfs/b$i"; i=$((i + 1)); done
tar -C "$work/rootfs" -cf "$work/base.tar" .
$W import "$work/base.tar" lookupbase:1 >/dev/null

mkdir "$work/ctx"
build_depth() { # depth -> image lookup:<depth>
    {
        echo "FROM lookupbase:1"
        n=2
        while [ $n -le "$1" ]; do echo "RUN echo $n > /l$n"; n=$((n + 1)); done
    } >"$work/ctx/Dockerfile"
    start=$(date +%s.%N)
    if ! $W build -q -t "lookup:$1" "$work/ctx" >"$work/build.log" 2>&1; then
        echo "depth $1: build FAILED: $(tail -1 "$work/build.log")"
        return 1
    fi
    end=$(date +%s.%N)
    echo "depth $1: built (cumulative steps cached) in $(echo "$end - $start" | bc) s"
}

# Inside the container: ms for FILES lookups of distinct names.
LOOP='t() { read u _ </proc/uptime; echo ${u%.*}${u#*.}; }
a=$(t); i=0; while [ $i -lt '$FILES' ]; do [ -e /b$i ]; i=$((i+1)); done; b=$(t)
i=0; while [ $i -lt '$FILES' ]; do [ -e /n$i ]; i=$((i+1)); done; c=$(t)
i=0; while [ $i -lt '$FILES' ]; do [ -e /bin ]; i=$((i+1)); done; d=$(t)
echo $(( (b-a)*10 )) $(( (c-b)*10 )) $(( (d-c)*10 ))'

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() { # image
    img=$1
    : >"$work/pos"; : >"$work/neg"; : >"$work/base"
    r=0
    while [ $r -lt "$RUNS" ]; do
        out=$($W run --rm "$img" sh -c "$LOOP") || { echo "run of $img failed: $out"; exit 1; }
        set -- $out
        echo "$1" >>"$work/pos"; echo "$2" >>"$work/neg"; echo "$3" >>"$work/base"
        r=$((r + 1))
    done
    pos=$(median <"$work/pos"); neg=$(median <"$work/neg"); base=$(median <"$work/base")
    start=$(date +%s%N); $W run --rm "$img" true; end=$(date +%s%N)
    printf '%6s layers: %d lookups of bottom-layer files %5d ms (%s us each), of missing names %5d ms (%s us each); run true %d ms\n' \
        "$depth" "$FILES" "$((pos - base))" "$(echo "scale=2; ($pos - $base) * 1000 / $FILES" | bc)" \
        "$((neg - base))" "$(echo "scale=2; ($neg - $base) * 1000 / $FILES" | bc)" "$(((end - start) / 1000000))"
}

deepest=1
for depth in 127 $MAX; do
    if build_depth "$depth"; then deepest=$depth; fi
done
for depth in 1 127 $deepest; do
    if [ "$depth" = 1 ]; then img=lookupbase:1; else img=lookup:$depth; fi
    layers=$($W inspect "$img" --format '{{len .RootFS.Layers}}')
    [ "$layers" = "$depth" ] || { echo "image $img has $layers layers, expected $depth"; exit 1; }
    measure "$img"
done
