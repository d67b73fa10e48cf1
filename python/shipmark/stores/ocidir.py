"""An OCI image layout directory as a store (`ocidir://PATH`): one layout, one repository.

Tags live in index.json (annotation org.opencontainers.image.ref.name). Writers take an
exclusive lock on index.json.lock for the read-modify-write and replace files atomically, so
concurrent processes lose no tag and readers never see half a file. No referrers API: records
use the referrers tag schema, exactly as on Docker Registry 2.x.

A layout may come from anywhere (copied, unpacked from a tarball), so what it holds is checked
as a registry's answers are: index.json entries must carry valid digests (a digest names a file
under blobs/), tags that are not valid tags are left out, every blob read must hash to its
digest, and manifests and payloads are read up to `limits`. What fails is bad local input (exit 2).
"""

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from typing import List, Optional

from ..core import mediatype as mt
from ..core.descriptor import Descriptor, Manifest, canonical_json, sha256
from ..core.ref import DIGEST_RE, TAG_RE, Ref
from ..errors import InputError, NotFoundError, ShipmarkError
from .base import Limits, size_text

_DAMAGED_HINT = "the layout was altered or damaged; copy the image into it again"


class OciDirStore:
    def __init__(self, path: str, create: bool = True, limits: Optional[Limits] = None):
        self.path = path
        self.limits = limits or Limits()
        if not os.path.isdir(path) or not os.path.exists(self._file("index.json")):
            if not create:
                raise NotFoundError(f"no OCI layout at {path}", "check the ocidir:// path")
            self._init_layout()

    def _file(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    def _blob_path(self, digest: str) -> str:
        if not isinstance(digest, str) or not DIGEST_RE.match(digest):
            raise InputError(f"invalid digest {digest!r}",
                             "a digest is sha256: followed by 64 lowercase hex digits")
        return self._file("blobs", "sha256", digest[7:])

    def _init_layout(self) -> None:
        try:
            os.makedirs(self._file("blobs", "sha256"), exist_ok=True)
            with self._locked():
                if not os.path.exists(self._file("oci-layout")):
                    _write_atomic(self._file("oci-layout"), b'{"imageLayoutVersion":"1.0.0"}')
                if not os.path.exists(self._file("index.json")):
                    self._write_index({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []})
        except OSError as exc:
            raise InputError(f"cannot create an OCI layout at {self.path}: {exc.strerror}",
                             "choose a writable directory") from None

    @contextmanager
    def _locked(self):
        with open(self._file("index.json.lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_index(self) -> dict:
        try:
            with open(self._file("index.json"), "rb") as fh:
                index = json.load(fh)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}/index.json is unreadable: {exc}",
                             "the directory is not a valid OCI layout") from None
        if not isinstance(index, dict):
            raise InputError(f"{self.path}/index.json is not a JSON object",
                             "the directory is not a valid OCI layout")
        return index

    def _write_index(self, index: dict) -> None:
        _write_atomic(self._file("index.json"), canonical_json(index))

    # -- blobs ---------------------------------------------------------------------------
    def blob_exists(self, repo: Ref, digest: str) -> bool:
        return os.path.exists(self._blob_path(digest))

    def get_blob(self, repo: Ref, digest: str, max_bytes: Optional[int] = None) -> bytes:
        return self._read_blob(digest, max_bytes, "the most shipmark reads of it")

    def _read_blob(self, digest: str, limit: Optional[int], why: str) -> bytes:
        """The blob, at most `limit` bytes (`why`: what that limit is), checked against its digest."""
        try:
            with open(self._blob_path(digest), "rb") as fh:
                data = fh.read(-1 if limit is None else limit + 1)
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} not found in {self.path}") from None
        if limit is not None and len(data) > limit:
            raise InputError(f"blob {digest} in {self.path} is larger than {size_text(limit)}, {why}",
                             _DAMAGED_HINT)
        actual = sha256(data)
        if actual != digest:
            raise InputError(f"blob {digest} in {self.path} is damaged: its content has digest {actual}",
                             _DAMAGED_HINT)
        return data

    def put_blob(self, repo: Ref, data: bytes, digest: Optional[str] = None) -> str:
        actual = sha256(data)
        if digest and digest != actual:
            raise InputError(f"blob digest mismatch: expected {digest}, got {actual}")
        path = self._blob_path(actual)
        if not os.path.exists(path):
            _write_atomic(path, data)
        return actual

    def copy_blob(self, src: Ref, dst: Ref, digest: str) -> None:
        if src.registry == dst.registry:
            return
        from . import open_store  # another layout directory: copy the file
        data = open_store(src).get_blob(src, digest)
        self.put_blob(dst, data, digest)

    # -- manifests -----------------------------------------------------------------------
    def _resolve(self, ref: Ref) -> Descriptor:
        if ref.digest:
            raw = self._read_manifest(ref.digest) if self.blob_exists(ref, ref.digest) else None
            if raw is None:
                raise NotFoundError(f"{ref} not found", "check the digest, or list the tags with `shipmark list`")
            return Manifest(_media_type(raw), raw).descriptor()
        for entry in self._entries():
            if (entry.get("annotations") or {}).get(mt.A_REF_NAME) == ref.tag:
                try:
                    return Descriptor.from_json(entry)
                except ShipmarkError as exc:
                    raise InputError(f"{self._file('index.json')}: the entry of tag {ref.tag} is malformed: "
                                     f"{exc.message}", _DAMAGED_HINT) from None
        raise NotFoundError(f"{ref} not found", f"list the tags with `shipmark list {ref.name}`")

    def _read_manifest(self, digest: str) -> bytes:
        return self._read_blob(digest, self.limits.manifest_bytes,
                               "the most shipmark reads of a manifest (the distribution spec's limit)")

    def head_manifest(self, ref: Ref) -> Descriptor:
        desc = self._resolve(ref)
        return Descriptor(desc.media_type, desc.digest, desc.size)

    def get_manifest(self, ref: Ref) -> Manifest:
        desc = self._resolve(ref)
        raw = self._read_manifest(desc.digest)
        return Manifest(desc.media_type or _media_type(raw), raw, desc.digest)

    def put_manifest(self, ref: Ref, manifest: Manifest) -> str:
        self.put_blob(ref, manifest.raw, manifest.digest)
        if ref.tag:
            entry = {"mediaType": manifest.media_type, "digest": manifest.digest, "size": len(manifest.raw),
                     "annotations": {mt.A_REF_NAME: ref.tag}}
            with self._locked():
                index = self._read_index()
                kept = [e for e in index.get("manifests", [])
                        if (e.get("annotations") or {}).get(mt.A_REF_NAME) != ref.tag]
                index["manifests"] = kept + [entry]
                self._write_index(index)
        return manifest.digest

    def delete_manifest(self, ref: Ref) -> None:
        """Untag every name pointing at the digest (or the one tag); the blob stays."""
        with self._locked():
            index = self._read_index()
            entries = index.get("manifests", [])
            kept = [e for e in entries if e.get("digest") != ref.digest and
                    (ref.digest or (e.get("annotations") or {}).get(mt.A_REF_NAME) != ref.tag)]
            if len(kept) == len(entries) and not (ref.digest and self.blob_exists(ref, ref.digest)):
                raise NotFoundError(f"{ref} not found")
            index["manifests"] = kept
            self._write_index(index)

    def list_tags(self, repo: Ref) -> List[str]:
        names = ((e.get("annotations") or {}).get(mt.A_REF_NAME) for e in self._entries())
        return sorted(n for n in names if isinstance(n, str) and TAG_RE.match(n))

    def _entries(self) -> List[dict]:
        entries = self._read_index().get("manifests")
        if not isinstance(entries, list):
            raise InputError(f"{self._file('index.json')} has no list of manifests", _DAMAGED_HINT)
        return [e for e in entries if isinstance(e, dict)]

    def close(self) -> None:
        pass


def _media_type(raw: bytes) -> str:
    try:
        return json.loads(raw).get("mediaType") or mt.OCI_MANIFEST
    except ValueError:
        raise InputError("stored manifest is not valid JSON") from None


def _write_atomic(path: str, data: bytes) -> None:
    """Write to a temp file beside the target, then rename: readers see all or nothing."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
