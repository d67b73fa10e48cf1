"""On-disk manifest cache, keyed by digest.

Content-addressed, so an entry never goes stale: a manifest's bytes are what its digest says
(checked again on every read). Layout: `ROOT/manifests/sha256/<hex>`, each file one line with
the media type, then the raw manifest bytes. Writes go to a temporary file in the same
directory and are renamed into place (`os.replace`), so concurrent readers and writers,
threads or processes, only ever see whole entries. Nothing is evicted: manifests are small.

Note for callers: a hit says the content exists somewhere, not that a given repository holds it;
ask the store (`head_manifest`) when existence is the question.
"""

import hashlib
import logging
import os
import re
import tempfile
from typing import Optional, Tuple

log = logging.getLogger("shipmark.cache")

_MAX_MEDIA_TYPE = 255
_HEX = re.compile(r"[0-9a-f]{64}")


class ManifestCache:
    """`max_bytes`: entries larger than this are neither kept nor read (a cache written before
    shipmark had limits may hold one)."""

    def __init__(self, root: str, max_bytes: Optional[int] = None):
        """`root`: the cache directory (settings.py: SHIPMARK_CACHE_DIR, else ~/.cache/shipmark)."""
        self.root = root
        self._dir = os.path.join(self.root, "manifests", "sha256")
        self._max = max_bytes
        self._warned = False

    def _path(self, digest: str) -> Optional[str]:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or not _HEX.fullmatch(hexpart):
            return None
        return os.path.join(self._dir, hexpart)

    def get(self, digest: str) -> Optional[Tuple[str, bytes]]:
        """(media type, raw bytes), or None on a miss or a damaged entry."""
        path = self._path(digest)
        if path is None:
            return None
        try:
            with open(path, "rb") as fh:
                blob = fh.read(-1 if self._max is None else self._max + _MAX_MEDIA_TYPE + 2)
        except OSError:
            return None
        head, sep, raw = blob.partition(b"\n")
        if not sep or "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
            self._discard(path)
            return None
        return head.decode("utf-8", "replace"), raw

    def put(self, digest: str, media_type: str, raw: bytes) -> None:
        """Best-effort: a cache that cannot be written is logged once and otherwise ignored."""
        path = self._path(digest)
        if (path is None or "\n" in media_type or len(media_type) > _MAX_MEDIA_TYPE
                or (self._max is not None and len(raw) > self._max)
                or "sha256:" + hashlib.sha256(raw).hexdigest() != digest):
            return
        if os.path.exists(path):
            return
        tmp = None
        try:
            os.makedirs(self._dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self._dir)
            with os.fdopen(fd, "wb") as fh:
                fh.write(media_type.encode("utf-8") + b"\n" + raw)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("manifest cache %s is not writable (%s); continuing without it",
                            self.root, exc.strerror or type(exc).__name__)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    @staticmethod
    def _discard(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass
