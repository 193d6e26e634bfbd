"""The builder as docker-py's own build tests use it (api_build_test.py):
the build's limits given to every RUN step, extra_hosts in RUN steps, and a
Dockerfile named by an absolute path inside the context."""

import io
import os

import docker
import pytest

from conftest import IMAGE


def _run(client, image, cmd):
    return client.containers.run(image, cmd, network_mode="none", remove=True)


def test_run_steps_get_the_builds_shm_size_and_ulimits(client, name):
    # dockerd gives each RUN container the build's --shm-size and --ulimit.
    dockerfile = io.BytesIO(
        b"FROM busybox:latest\n"
        b"RUN df -k /dev/shm | awk 'NR == 2 { print $2 }' > /shm && ulimit -n > /nofile\n"
    )
    img, _ = client.images.build(
        fileobj=dockerfile,
        tag=f"{name}:limits",
        rm=True,
        network_mode="none",
        shmsize=32 * 1024 * 1024,
        container_limits={"memory": 64 * 1024 * 1024},
    )
    out = _run(client, img.id, ["cat", "/shm", "/nofile"])
    shm, _nofile = out.decode().split()
    assert shm == str(32 * 1024)


def test_extra_hosts_reach_the_run_steps(client, name):
    # Two RUN steps that change nothing (one empty layer, twice) and a third
    # on top: the engine must mount that layer stack.
    dockerfile = io.BytesIO(
        b"FROM busybox:latest\n"
        b"RUN ping -c1 -W2 hello.world.test\n"
        b"RUN ping -c1 -W2 extrahost.local.test\n"
        b"RUN cp /etc/hosts /hosts-file\n"
    )
    img, _ = client.images.build(
        fileobj=dockerfile,
        tag=f"{name}:hosts",
        rm=True,
        network_mode="none",
        extra_hosts={
            "extrahost.local.test": "127.0.0.1",
            "hello.world.test": "127.0.0.1",
        },
    )
    hosts = _run(client, img.id, ["cat", "/hosts-file"]).decode()
    assert "127.0.0.1\textrahost.local.test" in hosts
    assert "127.0.0.1\thello.world.test" in hosts
    # Without them the name does not resolve and the step fails (another
    # command: the cache does not key on extra_hosts, in Docker neither).
    with pytest.raises(docker.errors.BuildError):
        client.images.build(
            fileobj=io.BytesIO(b"FROM busybox:latest\nRUN ping -c1 -W1 hello.world.test\n"),
            tag=f"{name}:nohosts",
            rm=True,
            network_mode="none",
        )


def test_a_dockerfile_inside_the_context_named_by_absolute_path(client, name, tmp_path):
    (tmp_path / "file.txt").write_text("hello world")
    dockerfile = tmp_path / "custom.dockerfile"
    dockerfile.write_text("FROM busybox\nCOPY . /src\nWORKDIR /src\n")
    img, _ = client.images.build(
        path=str(tmp_path), dockerfile=str(dockerfile), tag=f"{name}:abs", rm=True
    )
    out = _run(client, img.id, ["ls", "-a"])
    assert sorted(out.split()) == sorted([b".", b"..", b"file.txt", b"custom.dockerfile"])

