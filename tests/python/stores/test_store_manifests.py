"""Manifests on every store: byte-exact put/get/head, retag, not-found."""

import hashlib

import pytest

from shipmark.core import mediatype as mt
from shipmark.core.descriptor import Manifest
from shipmark.errors import NotFoundError

from servers import push_image, run_tool


@pytest.mark.parametrize("media", ["oci", "docker"])
def test_manifest_put_get_head_are_byte_exact(store, media):
    image = push_image(store.store, store.repo, "v1", seed=f"exact-{media}", media=media)
    got = store.store.get_manifest(store.repo.with_tag("v1"))
    assert got.raw == image.manifest.raw            # pretty-printed bytes kept as sent
    assert got.digest == image.digest
    assert got.media_type == image.manifest.media_type
    by_digest = store.store.get_manifest(store.repo.with_digest(image.digest))
    assert by_digest.raw == image.manifest.raw
    head = store.store.head_manifest(store.repo.with_tag("v1"))
    assert (head.media_type, head.digest, head.size) == (
        image.manifest.media_type, image.digest, len(image.manifest.raw))
    assert store.store.head_manifest(store.repo.with_digest(image.digest)).digest == image.digest


def test_put_by_digest_only_leaves_no_tag(store):
    image = push_image(store.store, store.repo, None, seed="untagged")
    assert store.store.get_manifest(store.repo.with_digest(image.digest)).raw == image.manifest.raw
    if store.is_registry:  # Registry 2.8 and ggcr answer NAME_UNKNOWN or [] for no tags
        try:
            assert store.store.list_tags(store.repo) == []
        except NotFoundError:
            pass
    else:
        assert store.store.list_tags(store.repo) == []


def test_missing_manifest_is_not_found_with_exit_code_4(store):
    push_image(store.store, store.repo, "v1", seed="present")
    for ref in (store.repo.with_tag("nope"),
                store.repo.with_digest("sha256:" + "0" * 64)):
        with pytest.raises(NotFoundError) as err:
            store.store.get_manifest(ref)
        assert err.value.exit_code == 4
        with pytest.raises(NotFoundError):
            store.store.head_manifest(ref)


def test_retag_keeps_bytes_and_digest_for_peers(store):
    # skopeo's oci: transport reads only OCI media types from a layout's index.
    media = "docker" if store.is_registry else "oci"
    image = push_image(store.store, store.repo, "1.0.0-b1", seed="retag", media=media)
    raw = store.store.get_manifest(store.repo.with_tag("1.0.0-b1"))
    store.store.put_manifest(store.repo.with_tag("stable"), raw)
    assert store.store.head_manifest(store.repo.with_tag("stable")).digest == image.digest
    # skopeo reads what we wrote, bytes and all.
    out = run_tool("skopeo", "inspect", "--raw", *store.skopeo_flags(),
                   store.skopeo_ref("stable")).stdout.encode()
    assert "sha256:" + hashlib.sha256(out).hexdigest() == image.digest
    info = run_tool("skopeo", "inspect", *store.skopeo_flags(), store.skopeo_ref("stable")).stdout
    assert image.digest in info


def test_docker_v2_manifest_is_not_rewritten_to_schema1(store):
    image = push_image(store.store, store.repo, "v2", seed="schema2", media="docker")
    got = store.store.get_manifest(store.repo.with_tag("v2"))
    assert got.media_type == mt.DOCKER_MANIFEST
    assert got.data["schemaVersion"] == 2 and got.digest == image.digest


def test_index_manifest_round_trips(store):
    child = push_image(store.store, store.repo, None, seed="child")
    raw = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
           b'"manifests":[' + str(child.descriptor.to_json()).replace("'", '"').encode()
           + b']}')
    index = Manifest(mt.OCI_INDEX, raw)
    store.store.put_manifest(store.repo.with_tag("multi"), index)
    got = store.store.get_manifest(store.repo.with_tag("multi"))
    assert (got.media_type, got.raw) == (mt.OCI_INDEX, raw)


def test_deleting_a_manifest_by_digest_deletes_its_tags(store):
    image = push_image(store.store, store.repo, "v1", seed="deleted")
    store.store.put_manifest(store.repo.with_tag("v2"), image.manifest)
    push_image(store.store, store.repo, "kept", seed="kept")
    store.store.delete_manifest(store.repo.with_digest(image.digest))
    for tag in ("v1", "v2"):
        with pytest.raises(NotFoundError):
            store.store.get_manifest(store.repo.with_tag(tag))
    assert store.store.list_tags(store.repo) == ["kept"]
