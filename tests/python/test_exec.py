import time

import docker
import pytest


def test_exec_run_never_loses_output(sleeper):
    # docker-py lost the output of about one exec in four when it came
    # together with the 101 response head.
    for i in range(40):
        r = sleeper.exec_run(["echo", f"line {i}"])
        assert (r.exit_code, r.output) == (0, f"line {i}\n".encode())


def test_exec_run_exit_code_and_demux(sleeper):
    r = sleeper.exec_run(["sh", "-c", "echo out; echo err >&2; exit 7"], demux=True)
    assert r.exit_code == 7
    assert r.output == (b"out\n", b"err\n")


def test_exec_inspect_exit_code_is_null_while_running(client, sleeper):
    e = client.api.exec_create(sleeper.id, ["sleep", "2"])
    client.api.exec_start(e["Id"], detach=True)
    info = client.api.exec_inspect(e["Id"])
    assert info["Running"] is True
    assert "ExitCode" in info and info["ExitCode"] is None
    for _ in range(100):
        info = client.api.exec_inspect(e["Id"])
        if not info["Running"]:
            break
        time.sleep(0.1)
    assert info["ExitCode"] == 0


def test_tty_exec_started_without_tty_is_framed(client, sleeper):
    e = client.api.exec_create(sleeper.id, ["echo", "tty"], tty=True)
    out = client.api.exec_start(e["Id"], tty=False, demux=True)
    assert out == (b"tty\r\n", None)


def test_tty_exec(sleeper):
    r = sleeper.exec_run(["sh", "-c", "tty >/dev/null && echo is-a-tty"], tty=True)
    assert r.output == b"is-a-tty\r\n"


def test_exec_stream(sleeper):
    r = sleeper.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True)
    assert b"".join(r.output) == b"a\nb\n"


def test_exec_environment_and_workdir(sleeper):
    r = sleeper.exec_run(["sh", "-c", "echo $GREETING; pwd"], environment={"GREETING": "hi"},
                         workdir="/tmp")
    assert r.output == b"hi\n/tmp\n"


def test_exec_in_a_stopped_container_is_a_conflict(client, name):
    ct = client.containers.create("busybox:latest", ["true"], name=name, network_mode="none")
    with pytest.raises(docker.errors.APIError) as e:
        ct.exec_run(["true"])
    assert e.value.status_code == 409
