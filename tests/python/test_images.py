import io
import time

import docker
import pytest

from conftest import IMAGE


def test_image_get_list_history(client):
    img = client.images.get(IMAGE)
    assert IMAGE in img.tags
    assert img.id in [i.id for i in client.images.list()]
    assert img.history()


def test_tag_and_remove(client, name):
    img = client.images.get(IMAGE)
    assert img.tag(name, "t1")
    assert f"{name}:t1" in client.images.get(f"{name}:t1").tags
    client.images.remove(f"{name}:t1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{name}:t1")


def test_build(client, name):
    dockerfile = io.BytesIO(b"FROM busybox:latest\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n")
    img, logs = client.images.build(fileobj=dockerfile, tag=f"{name}:b", rm=True)
    assert any("Step 2/3" in l.get("stream", "") for l in logs)
    out = client.containers.run(img.id, network_mode="none", remove=True)
    assert out == b"built\n"


def test_build_failure_raises_build_error(client, name):
    dockerfile = io.BytesIO(b"FROM busybox:latest\nRUN exit 3\n")
    with pytest.raises(docker.errors.BuildError):
        client.images.build(fileobj=dockerfile, tag=f"{name}:bad", rm=True)


def test_save_and_load(client, name):
    client.images.get(IMAGE).tag(name, "saved")
    data = b"".join(client.api.get_image(f"{name}:saved"))
    client.images.remove(f"{name}:saved")
    loaded = client.images.load(data)
    assert f"{name}:saved" in [t for i in loaded for t in i.tags]


def test_load_of_a_broken_archive_raises_image_load_error(client):
    with pytest.raises(docker.errors.ImageLoadError):
        client.images.load(b"this is not an image archive")


def test_events(client, name):
    since = int(time.time()) - 1
    client.containers.run(IMAGE, ["true"], name=name, network_mode="none")
    until = int(time.time()) + 1
    seen = [e for e in client.events(since=since, until=until, decode=True,
                                     filters={"container": name})]
    actions = [e.get("Action") or e.get("status") for e in seen]
    assert "create" in actions and "start" in actions and "die" in actions


def test_ping_version_info(client):
    assert client.ping()
    assert client.version()["ApiVersion"]
    assert "Containers" in client.info()
