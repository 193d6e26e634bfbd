"""commit as docker-py's api_image tests call it: right after `start` of a
command that ends at once, with the default pause=True. The container may
exit (and its cgroup go) between the engine's look at it and the freeze:
the commit must still succeed, as on dockerd."""

from conftest import IMAGE


def test_commit_right_after_a_short_command_starts(client, name):
    base = client.images.get(IMAGE).id
    for i in range(10):
        ctr = client.containers.create(
            IMAGE, ["touch", "/test"], name=f"{name}-{i}", network_mode="none"
        )
        ctr.start()
        img = ctr.commit(repository=name, tag=f"c{i}")
        assert client.api.inspect_image(img.id)["Parent"] == base
        ctr.remove(force=True)
