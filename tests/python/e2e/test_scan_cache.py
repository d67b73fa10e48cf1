"""Scans on registries remember version tags (immutable in shipmark's model) and read records
from per-record tags; these tests hold them to being exact anyway, and count the requests a
warm or cold command sends."""

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


def test_a_warm_list_reads_no_record_again_until_the_keys_change(registry_case, proxy, sm, push, tmp_path):
    """What a record's bytes said is kept by record digest, image and keys: a warm read needs
    neither the record manifest nor its payload (not even from the local caches, removed here),
    and a policy with other signers reads them again."""
    import os
    import shutil

    from shipmark import keys

    refs = [push(n) for n in (1, 2)]
    for ref in refs:
        assert sm("mark", ref, "--suite", "unit", "--result", "passed").code == 0
    repo = via(proxy, registry_case.repo)
    cold = sm("list", repo, "--json")
    assert cold.code == 0, cold.err
    cache = os.environ["SHIPMARK_CACHE_DIR"]
    for kept in ("manifests", "payloads"):
        shutil.rmtree(os.path.join(cache, kept), ignore_errors=True)
    proxy.clear()
    warm = sm("list", repo, "--json")
    assert warm.code == 0 and warm.json == cold.json
    record_reads = proxy.requests(method="GET", path=r"/(manifests/sha256:|blobs/)")
    assert record_reads == []

    key = keys.generate("ecdsa")
    (tmp_path / "ci.pub").write_bytes(key.public.pem())
    (tmp_path / "shipmark.yaml").write_text(
        "signers: {ci: ci.pub}\ntrust: {test: [ci]}\nchannels:\n  testing: {require: [unit]}\n")
    signed = sm("list", repo, "--json")
    assert signed.code == 0, signed.err
    # read again for the new keys (the payloads travel in the record manifests)
    assert len(proxy.requests(method="GET", path=r"/manifests/sha256:")) >= 2
    assert [image["summary"] for image in signed.json["images"]] == ["untested", "untested"]
    assert all(u["why"].startswith("unsigned; the policy trusts ci")
               for image in signed.json["images"] for u in image["untrusted"])


# Requests of one `promote` of an image whose unit suite passed, into a channel that holds an
# earlier image. Registry 2.8 also rewrites the `sha256-<hex>` index (read, write, list the tags
# again); a registry with the referrers API lists the record by itself. The record's payload
# goes up in one request (`POST ?digest=`) where the registry takes it (go-containerregistry),
# in two on Registry 2.8 (it answers that POST 202 and wants a PUT).
PROMOTE_REQUESTS = {  # kind: (warm, cold)
    "registry2": (10, 13),
    "referrers": (6, 9),
    "legacy-referrers": (6, 9),
}


def test_promote_sends_few_requests_warm_or_cold(registry_case, proxy, sm, push, tmp_path, monkeypatch):
    """Warm: the image's records were read by an earlier `status`; cold: nothing is cached. The
    images were pushed by another client (their manifests are in no cache of this one)."""
    first, second, third = (push(n).split(":")[-1] for n in (1, 2, 3))
    monkeypatch.setenv("SHIPMARK_CACHE_DIR", str(tmp_path / "warm"))
    repo = via(proxy, registry_case.repo)
    for tag in (first, second, third):
        assert sm("mark", f"{repo}:{tag}", "--suite", "unit", "--result", "passed").code == 0
    assert sm("promote", f"{repo}:{first}", "--to", "testing").code == 0
    was = sm("status", f"{repo}:{first}", "--json").json["digest"]
    assert sm("status", f"{repo}:{second}").code == 0

    warm_limit, cold_limit = PROMOTE_REQUESTS[registry_case.kind]
    proxy.clear()
    warm = sm("promote", f"{repo}:{second}", "--to", "testing", "--json")
    assert warm.code == 0, warm.err
    warm_sent = [(e.method, e.path) for e in proxy.requests()]
    assert len(warm_sent) <= warm_limit, warm_sent
    assert warm.json["record"]["previous"] == was     # still read from the tag just before the move

    monkeypatch.setenv("SHIPMARK_CACHE_DIR", str(tmp_path / "cold"))
    proxy.clear()
    cold = sm("promote", f"{repo}:{third}", "--to", "testing", "--json")
    assert cold.code == 0, cold.err
    cold_sent = [(e.method, e.path) for e in proxy.requests()]
    assert len(cold_sent) <= cold_limit, cold_sent
    assert cold.json["record"]["previous"] == warm.json["digest"]
    picked = sm("pick", repo, "--channel", "testing", "--json")
    assert picked.json["digest"] == cold.json["digest"]
