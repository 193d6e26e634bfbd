"""docker-py (the Python SDK, pinned in .ci/run) against the engine that
DOCKER_HOST names: whale's private daemon (tests/tests/dockerpy.rs starts
it), or dockerd, to check that every call here behaves the same there.

Containers run busybox:latest with no network, and are named with a
random `dockerpy-` prefix and removed, so a shared dockerd is left as found.
"""

import uuid

import docker
import pytest

IMAGE = "busybox:latest"


@pytest.fixture(scope="session")
def client():
    c = docker.from_env(timeout=60)
    yield c
    c.close()


@pytest.fixture(scope="session")
def is_whale(client):
    """Whether DOCKER_HOST is whale (its Server header), for the few checks
    where whale does better than dockerd does for docker-py."""
    r = client.api.get(client.api._url("/_ping"))
    return r.headers.get("Server", "").startswith("whale/")


@pytest.fixture
def name():
    """A unique name; whatever carries it is removed afterwards."""
    n = "dockerpy-" + uuid.uuid4().hex[:12]
    yield n
    c = docker.from_env()
    for ct in c.containers.list(all=True, filters={"name": n}):
        ct.remove(force=True)
    # Tags by name, never images by id: an image we tagged is shared.
    for img in c.images.list():
        for tag in img.tags:
            if tag.startswith(n + ":"):
                c.images.remove(tag)
    c.close()


@pytest.fixture
def sleeper(client, name):
    """A running container that lives until the test ends."""
    return client.containers.run(
        IMAGE, ["sleep", "300"], name=name, network_mode="none", detach=True
    )
