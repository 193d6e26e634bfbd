#!/usr/bin/env bash
# docker-py 7.2.0's own integration tests against an engine (not a test of
# ours: a measure of how much of docker-py an engine serves). Prints
# "N passed of M" for DOCKER_HOST, and a summary of the failures by cause.
#
# Usage:
#   DOCKER_HOST=unix:///tmp/me/whale.sock bench/dockerpy_upstream.sh
#   DOCKER_HOST=unix:///var/run/docker.sock bench/dockerpy_upstream.sh
#
# docker-py's tests are not in its sdist: the script clones the 7.2.0 tag
# from GitHub into a cache dir (DOCKERPY_SRC names an existing checkout
# instead), and installs docker==7.2.0, pytest and pytest-timeout into a
# venv of its own there (with paramiko, which their helpers import). Nothing of docker-py is kept in this repo.
#
# What it runs: tests/integration/ api_build, api_container, api_exec,
# api_image, api_volume, models_containers, models_images, models_volumes and
# errors (DOCKERPY_FILES="api_build models_images" names a subset);
# tests naming a network are deselected (whale has no bridge networks). Two
# adjustments, the same for every engine, so the figures compare:
#   - the tests' images alpine:3.10 and alpine:latest (pulled in docker-py's
#     CI; no registry here) are this engine's busybox:latest tagged
#     dockerpy-upstream:3.10 and :latest, untagged at the end;
#   - containers that ask for no network, or the default bridge, get
#     NetworkMode none (a pytest plugin written below): this machine's
#     rule is no bridges and no veth pairs.
set -euo pipefail

: "${DOCKER_HOST:?set DOCKER_HOST to the engine to measure, e.g. unix:///var/run/docker.sock}"
CACHE=${DOCKERPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/whale/docker-py-7.2.0}
SRC=${DOCKERPY_SRC:-$CACHE/src}
VENV=$CACHE/venv
IMG=dockerpy-upstream:3.10
IMG_LATEST=dockerpy-upstream:latest
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-60}

mkdir -p "$CACHE"
if [ ! -d "$SRC/tests/integration" ]; then
    echo "fetching docker-py 7.2.0's tests into $SRC" >&2
    git clone --quiet --depth 1 --branch 7.2.0 https://github.com/docker/docker-py "$SRC"
fi
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import docker, pytest, pytest_timeout, paramiko, sys; sys.exit(docker.__version__ != "7.2.0")' 2>/dev/null \
    || "$VENV/bin/pip" install --quiet docker==7.2.0 pytest pytest-timeout paramiko

# A private copy of the tests, with the image renamed.
WORK=$(mktemp -d)
tagged=0
cleanup() {
    if [ "$tagged" = 1 ]; then
        "$VENV/bin/python" - "$IMG" "$IMG_LATEST" <<'PY' || true
import sys, docker
for tag in sys.argv[1:]:
    docker.from_env().images.remove(tag)
PY
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
cp -r "$SRC/tests" "$WORK/tests"
grep -rlE "alpine:(3\.10|latest)" "$WORK/tests" | xargs sed -i -E "s/alpine:3\.10/$IMG/g; s/alpine:latest/$IMG_LATEST/g"
cat > "$WORK/dockerpy_no_bridge.py" <<'PY'
"""No container of docker-py's tests joins a bridge network."""
import docker.api.container
import docker.types.containers as tc

_init = tc.HostConfig.__init__


def _host_config(self, version, *args, **kwargs):
    if kwargs.get("network_mode") in (None, "", "bridge", "default"):
        kwargs["network_mode"] = "none"
    _init(self, version, *args, **kwargs)


tc.HostConfig.__init__ = _host_config
_create = docker.api.container.ContainerApiMixin.create_container


def _create_container(self, image, command=None, *args, **kwargs):
    if kwargs.get("host_config") is None:
        kwargs["host_config"] = self.create_host_config()
    return _create(self, image, command, *args, **kwargs)


docker.api.container.ContainerApiMixin.create_container = _create_container
PY

"$VENV/bin/python" - "$IMG" "$IMG_LATEST" <<'PY'
import sys, docker
c = docker.from_env()
for tag in sys.argv[1:]:
    try:
        c.images.get(tag)
        sys.exit(f"{tag} is already there: remove it first (this script removes it at the end)")
    except docker.errors.ImageNotFound:
        c.images.get("busybox:latest").tag(tag)
PY
tagged=1

cd "$WORK"
files=()
for f in ${DOCKERPY_FILES:-api_build api_container api_exec api_image api_volume models_containers models_images models_volumes errors}; do
    files+=("tests/integration/${f}_test.py")
done
set +e
COLUMNS=400 PYTHONPATH="$WORK" PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m pytest \
    -p dockerpy_no_bridge -p no:cacheprovider -q -rfE --timeout="$PER_TEST_TIMEOUT" \
    -k "not network and not Network" "${files[@]}" >"$WORK/out.txt" 2>&1
set -e
summary=$(tail -n 1 "$WORK/out.txt")
passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
total=0
for kind in passed failed error errors skipped xfailed xpassed; do
    n=$(grep -oE "[0-9]+ $kind\b" <<<"$summary" | grep -oE '^[0-9]+' || true)
    total=$((total + ${n:-0}))
done
cp "$WORK/out.txt" "${DOCKERPY_KEEP_OUTPUT:-/dev/null}"
echo "failures, by message (most common first):"
{ grep -E '^(FAILED|ERROR) ' "$WORK/out.txt" || true; } | sed -E 's/^[A-Z]+ [^ ]+( - )?//' | cut -c1-150 | sort | uniq -c | sort -rn | head -25 || true
echo
echo "pytest: $summary"
echo "docker-py 7.2.0 integration against $DOCKER_HOST: $passed passed of $total"
if [ -n "${DOCKERPY_KEEP_OUTPUT:-}" ]; then
    cp "$WORK/out.txt" "$DOCKERPY_KEEP_OUTPUT"
fi
