"""OCI descriptors and manifests as values."""

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

from ..errors import InputError
from . import mediatype as mt
from .ref import check_digest


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: Optional[str] = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> "Descriptor":
        """From JSON read from outside (an index, a referrers listing): the digest must be one,
        whole (it names a blob file in a layout and a URL path on a registry)."""
        try:
            return cls(
                media_type=data["mediaType"],
                digest=check_digest(data["digest"]),
                size=int(data["size"]),
                artifact_type=data.get("artifactType"),
                annotations=dict(data.get("annotations") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed OCI descriptor: {exc}") from None


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as stored: `raw` is byte-exact, so copies keep the digest."""

    media_type: str
    raw: bytes
    digest: str = ""

    def __post_init__(self):
        if not self.digest:
            object.__setattr__(self, "digest", sha256(self.raw))

    @property
    def data(self) -> dict:
        try:
            return json.loads(self.raw)
        except ValueError:
            raise InputError(f"manifest {self.digest} is not valid JSON") from None

    def descriptor(self) -> Descriptor:
        """The descriptor a referrers listing gives for this manifest (artifactType falls back to
        the config media type, as the OCI distribution spec says)."""
        data = self.data
        artifact = data.get("artifactType")
        if not artifact and data.get("subject"):
            artifact = (data.get("config") or {}).get("mediaType")
        return Descriptor(self.media_type, self.digest, len(self.raw), artifact,
                          dict(data.get("annotations") or {}))


def canonical_json(obj) -> bytes:
    """Stable bytes for content we create: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# Content this small travels inside its descriptor as well (the image spec's `data`), so a
# reader holding the descriptor needs no request for it: a record's payload in its manifest,
# record manifests in the `sha256-<hex>` index (stores/discovery.py). The blob is pushed too:
# tools that ignore `data` read it as before.
EMBED_BYTES = 16 * 1024


def with_data(descriptor: dict, content: bytes) -> dict:
    """The descriptor carrying its content, when the content is at most EMBED_BYTES."""
    if len(content) <= EMBED_BYTES:
        return {**descriptor, "data": base64.b64encode(content).decode("ascii")}
    return descriptor


def embedded(descriptor: Mapping) -> Optional[bytes]:
    """The content a descriptor carries in `data`, checked against its size and digest before
    anything else looks at it; None when it carries none. ValueError says what is wrong."""
    data = descriptor.get("data")
    if data is None:
        return None
    size = descriptor.get("size")
    if not isinstance(data, str) or not isinstance(size, int) or size < 0:
        raise ValueError("its embedded data is malformed")
    if len(data) > 4 * ((size + 2) // 3):   # more base64 than `size` bytes need: not decoded
        raise ValueError("its embedded data is longer than its size")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("its embedded data is not base64") from None
    if len(content) != size or sha256(content) != descriptor.get("digest"):
        raise ValueError("its embedded data does not match its digest")
    return content


def artifact_manifest(artifact_type: str, layer: bytes, layer_type: str, title: str,
                      annotations: Mapping[str, str],
                      subject: Optional[Descriptor] = None) -> Tuple[Manifest, Dict[str, bytes]]:
    """An OCI 1.1 artifact (records, the published policy): the empty config, one layer whose
    title is the file `oras pull` writes (and which the manifest embeds when it is small), and
    an optional subject. Returns the manifest and the blobs to push before it."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_DIGEST, "size": len(mt.EMPTY_JSON)},
        "layers": [with_data({"mediaType": layer_type, "digest": sha256(layer), "size": len(layer),
                              "annotations": {mt.A_TITLE: title}}, layer)],
    }
    if subject is not None:
        manifest["subject"] = {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size}
    manifest["annotations"] = dict(annotations)
    return (Manifest(mt.OCI_MANIFEST, canonical_json(manifest)),
            {mt.EMPTY_DIGEST: mt.EMPTY_JSON, sha256(layer): layer})
