import io
import tarfile
import time

import docker
import pytest

from conftest import IMAGE


def test_run_without_detach_returns_the_output(client, name):
    out = client.containers.run(IMAGE, ["echo", "hello"], name=name, network_mode="none")
    assert out == b"hello\n"


def test_run_failure_raises_container_error(client, name):
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run(IMAGE, ["sh", "-c", "echo oops >&2; exit 3"], name=name,
                              network_mode="none")
    assert e.value.exit_status == 3
    assert b"oops" in e.value.stderr


def test_run_remove(client, name):
    assert client.containers.run(IMAGE, ["true"], name=name, network_mode="none",
                                 remove=True) == b""
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_host_config_is_complete(client, sleeper):
    hc = client.api.inspect_container(sleeper.id)["HostConfig"]
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
    for key in ("NetworkMode", "RestartPolicy", "Privileged", "ShmSize", "MaskedPaths",
                "ReadonlyPaths", "Memory", "PidsLimit", "AutoRemove", "ConsoleSize"):
        assert key in hc, key
    assert hc["ShmSize"] == 64 * 1024 * 1024


def test_unknown_log_driver_is_refused(client, name):
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(IMAGE, ["true"], name=name, network_mode="none",
                                 log_config={"Type": "dockerpy-no-such-driver"})
    assert e.value.status_code in (400, 500)
    assert "dockerpy-no-such-driver" in str(e.value)


def test_logs_wait_and_list(client, name):
    ct = client.containers.run(IMAGE, ["sh", "-c", "echo out; echo err >&2; exit 4"],
                               name=name, network_mode="none", detach=True)
    assert ct.wait(timeout=30)["StatusCode"] == 4
    assert ct.logs(stdout=True, stderr=False) == b"out\n"
    assert ct.logs(stdout=False, stderr=True) == b"err\n"
    # Which of the two came last is the kernel's business; dockerd applies
    # tail before it picks streams.
    assert sorted(ct.logs(tail=2).splitlines()) == [b"err", b"out"]
    assert ct.logs(tail=1) in (b"out\n", b"err\n")
    ids = [c.id for c in client.containers.list(all=True, filters={"name": name})]
    assert ids == [ct.id]
    ct.reload()
    assert ct.status == "exited"


def test_logs_follow_stream(client, name):
    ct = client.containers.run(IMAGE, ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"],
                               name=name, network_mode="none", detach=True)
    lines = b"".join(ct.logs(stream=True, follow=True))
    assert lines == b"1\n2\n3\n"


def test_attach_logs_without_stream_answers_at_once(client, name, is_whale):
    ct = client.containers.run(IMAGE, ["sh", "-c", "echo ready; sleep 300"], name=name,
                               network_mode="none", detach=True)
    for _ in range(100):
        if ct.logs():
            break
        time.sleep(0.05)
    start = time.monotonic()
    out = ct.attach(logs=True, stream=False)
    assert time.monotonic() - start < 10
    # dockerd sends the log right behind the 101 head, where docker-py's
    # buffered reader swallows it (b""); whale paces docker-py (exec.rs).
    assert out == b"ready\n" if is_whale else out in (b"ready\n", b"")


def test_attach_stream_sees_output(client, name):
    ct = client.containers.create(IMAGE, ["sh", "-c", "sleep 0.5; echo attached"], name=name,
                                  network_mode="none")
    stream = ct.attach(stream=True, logs=True)
    ct.start()
    assert b"".join(stream) == b"attached\n"


def test_stop_kill_restart(client, sleeper):
    sleeper.kill(signal="SIGKILL")
    assert sleeper.wait(timeout=30)["StatusCode"] == 137
    sleeper.start()
    sleeper.reload()
    assert sleeper.status == "running"
    sleeper.stop(timeout=1)
    sleeper.reload()
    assert sleeper.status == "exited"


def test_top_and_stats(client, sleeper):
    top = sleeper.top()
    assert any("sleep" in " ".join(p) for p in top["Processes"])
    stats = sleeper.stats(stream=False)
    assert "memory_stats" in stats and "cpu_stats" in stats


def test_put_and_get_archive(client, sleeper):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"from docker-py\n"
        info = tarfile.TarInfo("greeting.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    assert sleeper.put_archive("/tmp", buf.getvalue())
    assert sleeper.exec_run(["cat", "/tmp/greeting.txt"]).output == b"from docker-py\n"
    bits, stat = sleeper.get_archive("/tmp/greeting.txt")
    assert stat["name"] == "greeting.txt" and stat["size"] == 15
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
        assert t.extractfile("greeting.txt").read() == b"from docker-py\n"
    with pytest.raises(docker.errors.NotFound):
        sleeper.get_archive("/no/such/path")


def test_diff(client, sleeper):
    sleeper.exec_run(["touch", "/tmp/new-file"])
    assert {"Path": "/tmp/new-file", "Kind": 1} in sleeper.diff()


def test_unknown_route_with_a_body_is_a_clean_404(client):
    for _ in range(5):
        r = client.api._post(client.api._url("/dockerpy/no/such/route"), data=b"x" * (1 << 20))
        assert r.status_code == 404


def test_pause_unpause(client, sleeper):
    sleeper.pause()
    sleeper.reload()
    assert sleeper.status == "paused"
    sleeper.unpause()
    sleeper.reload()
    assert sleeper.status == "running"


def test_rename(client, sleeper, name):
    sleeper.rename(name + "-renamed")
    try:
        sleeper.reload()
        assert sleeper.name == name + "-renamed"
    finally:
        sleeper.remove(force=True)


def test_commit(client, sleeper, name):
    sleeper.exec_run(["sh", "-c", "echo committed > /marker"])
    img = sleeper.commit(repository=name, tag="v1")
    try:
        out = client.containers.run(img.id, ["cat", "/marker"], network_mode="none", remove=True)
        assert out == b"committed\n"
    finally:
        client.images.remove(img.id, force=True)


def test_volumes(client, name):
    vol = client.volumes.create(name)
    try:
        assert client.volumes.get(name).name == name
    finally:
        vol.remove(force=True)


def test_bind_mount_read_only(client, tmp_path):
    (tmp_path / "f").write_text("from the host\n")
    out = client.containers.run(
        IMAGE,
        ["sh", "-c", "cat /mnt/f; touch /mnt/g 2>&1 || true"],
        volumes={str(tmp_path): {"bind": "/mnt", "mode": "ro"}},
        network_mode="none",
        remove=True,
    )
    assert out.startswith(b"from the host\n")
    assert b"Read-only file system" in out
    assert not (tmp_path / "g").exists()


def test_cap_drop_all(client):
    out = client.containers.run(
        IMAGE,
        ["grep", "CapEff", "/proc/self/status"],
        cap_drop=["ALL"],
        network_mode="none",
        remove=True,
    )
    assert out.split() == [b"CapEff:", b"0000000000000000"]


def test_restart_policy_counts_restarts(client, name):
    c = client.containers.run(
        IMAGE,
        ["sh", "-c", "exit 3"],
        name=name,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2},
        network_mode="none",
        detach=True,
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            c.reload()
            if c.attrs["RestartCount"] == 2 and c.status == "exited":
                break
            time.sleep(0.2)
        assert c.attrs["RestartCount"] == 2, c.attrs["State"]
        assert c.status == "exited"
        assert c.attrs["State"]["ExitCode"] == 3
    finally:
        c.remove(force=True)
