"""Blobs on every store: upload once, read back, and copy between repositories without
moving bytes through the client where the store can link them."""

import pytest

from shipmark.core.descriptor import sha256
from shipmark.errors import InputError, NotFoundError

from faultproxy import FaultProxy
from servers import build_image, push_image


def test_put_get_and_exists(store):
    data = b"shipmark blob " * 1000
    digest = store.store.put_blob(store.repo, data)
    assert digest == sha256(data)
    assert store.store.blob_exists(store.repo, digest)
    assert store.store.get_blob(store.repo, digest) == data
    assert not store.store.blob_exists(store.repo, "sha256:" + "1" * 64)
    with pytest.raises(NotFoundError):
        store.store.get_blob(store.repo, "sha256:" + "1" * 64)


def test_put_blob_rejects_a_wrong_digest(store):
    with pytest.raises(InputError):
        store.store.put_blob(store.repo, b"abc", "sha256:" + "2" * 64)


def test_put_blob_is_one_request_where_the_registry_takes_it(registry_store):
    """No HEAD first (callers that may find the blob present ask blob_exists). The bytes go in
    one `POST ?digest=`; Docker Registry 2.8 answers it 202 and wants them again by PUT, and
    the store then opens plain upload sessions there for the rest of its life."""
    first, second = b"monolithic " * 5000, b"second payload"
    with FaultProxy(registry_store.server.host) as proxy:
        client, repo = registry_store.through(proxy)
        assert client.put_blob(repo, first) == sha256(first)
        sent_first = list(proxy.log)
        assert client.put_blob(repo, second) == sha256(second)
        sent_second = proxy.log[len(sent_first):]
    digest_query = f"digest={sha256(first).replace(':', '%3A')}"
    post = sent_first[0]
    assert post.method == "POST" and digest_query in post.path.replace(":", "%3A")
    assert post.request_bytes == len(first)
    if registry_store.kind == "registry2":
        assert [(e.method, e.status) for e in sent_first] == [("POST", 202), ("PUT", 201)]
        assert sent_first[1].request_bytes == len(first) and digest_query in sent_first[1].path
        assert [(e.method, e.status, e.request_bytes) for e in sent_second] == [
            ("POST", 202, 0), ("PUT", 201, len(second))]
    else:
        assert [(e.method, e.status) for e in sent_first] == [("POST", 201)]
        assert [(e.method, e.status) for e in sent_second] == [("POST", 201)]
    for data in (first, second):
        assert registry_store.store.get_blob(registry_store.repo, sha256(data)) == data


def test_copy_blob_across_repositories_moves_no_bytes(store):
    image = push_image(store.store, store.repo, "v1", seed="mount", layer_size=300_000)
    dst = store.new_repo()
    if not store.is_registry:
        dst_store = store.open(dst)
        for digest in image.blobs:
            dst_store.copy_blob(store.repo, dst, digest)
            assert dst_store.get_blob(dst, digest) == image.blobs[digest]
        return
    with FaultProxy(store.server.host) as proxy:
        client, src = store.through(proxy)
        dst = dst.__class__(dst.scheme, proxy.host, dst.repository)
        for digest in image.blobs:
            client.copy_blob(src, dst, digest)
        for digest, data in image.blobs.items():
            assert client.get_blob(dst, digest) == data
        mounts = proxy.requests(method="POST", path=r"mount=")
        uploaded = proxy.uploaded_bytes()
    assert uploaded == 0
    if store.kind == "registry2":
        assert [m.status for m in mounts] == [201, 201]   # Created: mounted, nothing streamed
    else:
        # go-containerregistry keeps blobs per registry, not per repository: the HEAD on the
        # destination finds them, so no mount is even needed.
        assert mounts == []


def test_copy_blob_streams_when_the_mount_is_refused(registry2):
    """Same registry, mount answered 202 (refused): the blob is streamed into the upload
    session the 202 opened, and arrives intact. The proxy points the mount at a repository
    without the blob, which is how Registry 2.8 comes to refuse it."""
    import uuid

    from shipmark.core.ref import parse
    from shipmark.stores import open_store

    src = parse(f"{registry2.host}/mount-src/{uuid.uuid4().hex[:8]}", default_tag=None)
    store = open_store(src)
    data = uuid.uuid4().bytes * 10_000
    digest = store.put_blob(src, data)
    with FaultProxy(registry2.host) as proxy:
        proxy.rewrite(r"from=[^&]*", "from=mount-nowhere%2Fnone", method="POST", path="mount=")
        client = open_store(src)
        src_p = src.__class__(src.scheme, proxy.host, src.repository)
        dst_p = src.__class__(src.scheme, proxy.host, f"mount-dst/{uuid.uuid4().hex[:8]}")
        client.copy_blob(src_p, dst_p, digest)
        calls = [(e.method, e.status, e.action) for e in proxy.log]
        uploaded = proxy.uploaded_bytes()
        assert client.get_blob(dst_p, digest) == data
        client.close()
    store.close()
    assert calls == [("HEAD", 404, "forward"), ("POST", 202, "rewrite"), ("GET", 200, "forward"),
                     ("PUT", 201, "forward")]
    assert uploaded == len(data)


def test_copy_blob_between_registries_streams(registry2, referrers_registry):
    import uuid

    from shipmark.core.ref import parse
    from shipmark.stores import open_store

    src = parse(f"{registry2.host}/xreg/{uuid.uuid4().hex[:8]}", default_tag=None)
    dst = parse(f"{referrers_registry.host}/xreg/{uuid.uuid4().hex[:8]}", default_tag=None)
    store = open_store(src)
    manifest, blobs = build_image(f"cross-registry-{uuid.uuid4().hex}", layer_size=2_000_000)
    for digest, data in blobs.items():
        store.put_blob(src, data, digest)
    with FaultProxy(referrers_registry.host) as proxy:
        dst_p = dst.__class__(dst.scheme, proxy.host, dst.repository)
        for digest in blobs:
            store.copy_blob(src, dst_p, digest)
        uploaded = proxy.uploaded_bytes()
    for digest, data in blobs.items():
        assert store.get_blob(dst, digest) == data
    store.close()
    assert uploaded == sum(len(b) for b in blobs.values())
