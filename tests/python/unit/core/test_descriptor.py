"""Content carried inside its descriptor (the image spec's `data`): what shipmark writes, and
what it accepts when it reads a copy written by anyone."""

import base64

import pytest

from shipmark.core import mediatype as mt
from shipmark.core.descriptor import EMBED_BYTES, artifact_manifest, embedded, sha256, with_data


def _desc(content: bytes, **over) -> dict:
    desc = {"mediaType": mt.IN_TOTO, "digest": sha256(content), "size": len(content),
            "data": base64.b64encode(content).decode()}
    desc.update(over)
    return desc


def test_a_small_layer_travels_in_the_manifest_and_is_still_pushed():
    layer = b'{"_type":"statement"}'
    manifest, blobs = artifact_manifest(mt.RECORD_ARTIFACT, layer, mt.IN_TOTO, "record.json", {})
    (desc,) = manifest.data["layers"]
    assert embedded(desc) == layer
    assert blobs[desc["digest"]] == layer   # tools that ignore `data` fetch the blob


def test_a_layer_over_the_bound_is_not_embedded():
    layer = b"x" * (EMBED_BYTES + 1)
    manifest, _ = artifact_manifest(mt.RECORD_ARTIFACT, layer, mt.IN_TOTO, "record.json", {})
    assert "data" not in manifest.data["layers"][0]
    assert "data" in with_data({"size": EMBED_BYTES}, b"y" * EMBED_BYTES)


def test_a_descriptor_without_data_carries_nothing():
    assert embedded({"mediaType": mt.IN_TOTO, "digest": sha256(b"a"), "size": 1}) is None


@pytest.mark.parametrize("over, why", [
    ({"data": 12}, "malformed"),
    ({"size": "3"}, "malformed"),
    ({"data": "!!!!"}, "not base64"),
    ({"data": base64.b64encode(b"abd").decode()}, "does not match its digest"),
    ({"digest": sha256(b"other")}, "does not match its digest"),
])
def test_a_copy_that_does_not_match_its_descriptor_is_refused(over, why):
    desc = _desc(b"abc", **over)
    with pytest.raises(ValueError, match=why):
        embedded(desc)


def test_a_copy_of_another_size_is_refused_even_when_short():
    desc = _desc(b"abc", size=4)   # 4 base64 characters fit 4 bytes, but the bytes are 3
    with pytest.raises(ValueError, match="does not match its digest"):
        embedded(desc)


def test_more_base64_than_the_size_needs_is_not_decoded():
    with pytest.raises(ValueError, match="longer than its size"):
        embedded(_desc(b"abcdefgh", size=2))   # 12 characters where 2 bytes need 4
