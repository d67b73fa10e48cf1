"""Scans on registries remember version tags (immutable in shipmark's model) and read records
from per-record tags; these tests hold them to being exact anyway."""

import pytest
from faultproxy import FaultProxy

from shipmark.core.ref import parse


@pytest.fixture
def registry_case(store):
    if not store.is_registry:
        pytest.skip("OCI layouts are read from local files; nothing is cached")
    return store


@pytest.fixture
def proxy(registry_case):
    with FaultProxy(registry_case.server.host) as p:
        yield p


def via(proxy, repo):
    return f"{proxy.host}/{repo.repository}"


def test_warm_list_sends_no_head_for_version_tags(registry_case, proxy, sm, push):
    for n in range(1, 6):
        push(n)
    assert sm("list", via(proxy, registry_case.repo)).code == 0
    cold_heads = len(proxy.requests(method="HEAD", path=r"/manifests/"))
    proxy.clear()
    warm = sm("list", via(proxy, registry_case.repo), "--json")
    assert warm.code == 0 and len(warm.json["images"]) == 5
    assert cold_heads >= 5
    assert proxy.requests(method="HEAD", path=r"/manifests/") == []


def test_pick_is_not_fooled_by_a_version_tag_pushed_again(registry_case, sm, push):
    one, two = push(1), push(2)
    for ref in (one, two):
        assert sm("mark", ref, "--suite", "unit", "--result", "passed").code == 0
        assert sm("promote", ref, "--to", "testing").code == 0
    first = sm("pick", registry_case.repo.name, "--channel", "testing", "--json")
    assert first.code == 0, first.err
    first = first.json
    assert first["tag"] == two.split(":")[-1]
    # Someone pushes another (untested) image under build 2's tag: the cache is now stale.
    from shipmark.ops.demo import push_sample_image
    from datetime import datetime, timezone
    push_sample_image(registry_case.store, parse(two), "other", datetime(2027, 1, 1, tzinfo=timezone.utc))
    again = sm("pick", registry_case.repo.name, "--channel", "testing", "--json").json
    assert again["tag"] == one.split(":")[-1]
