"""Reading images and their records from a store: the shared part of every use case."""

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Dict, Iterable, Iterator, List, Optional

from ..core import mediatype as mt
from ..core import version
from ..core.descriptor import Descriptor
from ..core.record import NewRecord, Record, parse_time
from ..core.ref import Ref
from ..core.state import ImageState, fold
from ..errors import InputError, NotFoundError
from ..stores import referrers
from ..stores.base import Store

SCAN_WORKERS = 16


@dataclass
class Image:
    repo: Ref
    descriptor: Descriptor
    records: List[Record]
    tags: List[str] = field(default_factory=list)   # version and channel tags pointing here
    repo_tags: Optional[List[str]] = None           # the repository's tag list, when it was read

    @property
    def digest(self) -> str:
        return self.descriptor.digest

    @property
    def pinned(self) -> str:
        """`repo@sha256:...`: what deploy files and `pick` print."""
        return f"{self.repo.name}@{self.digest}"

    @property
    def state(self) -> ImageState:
        """The fold of the records, computed once per set of records."""
        key = len(self.records)
        if getattr(self, "_state_key", None) != key:
            self._state, self._state_key = fold(self.records), key
        return self._state

    @property
    def built_at(self) -> Optional[datetime]:
        prov = self.state.provenance
        return parse_time(prov.created) if prov else None


def records_of(store: Store, repo: Ref, digest: str, tags: Optional[List[str]] = None) -> List[Record]:
    found = referrers.list_referrers(store, repo, digest, tags=tags)
    return [r for r in (Record.from_descriptor(d) for d in found) if r is not None]


def load(store: Store, ref: Ref, tags: Optional[List[str]] = None) -> Image:
    """One image by tag or digest, with its records."""
    desc = store.head_manifest(ref)
    found, tags = referrers.read_referrers(store, ref.repo, desc.digest, tags)
    records = [r for r in (Record.from_descriptor(d) for d in found) if r is not None]
    return Image(ref.repo, desc, records, [ref.tag] if ref.tag else [], tags)


def attach(store: Store, image: Image, new: NewRecord) -> Record:
    referrers.attach(store, image.repo, image.descriptor, new.manifest, new.blobs, image.repo_tags)
    if image.repo_tags is not None:
        image.repo_tags.append(referrers.record_tag(image.digest, new.manifest.digest))
    rec = Record.from_descriptor(new.descriptor)
    image.records.append(rec)
    return rec


class Scan:
    """A repository's images, newest first, resolved lazily and concurrently.

    The tag list is read once; tags are ordered by the version scheme without a request; each
    round of tags is resolved (HEAD + records) in a thread pool, and images are memoised by
    digest, so a walk that stops early (pick) costs O(k) requests, not O(N). With a
    `tag_cache` (see stores.tagcache) version tags resolved before need no request at all.
    """

    def __init__(self, store: Store, repo: Ref, progress: Optional[Callable[[int, int], None]] = None,
                 tag_cache=None):
        self.store = store
        self.repo = repo
        self.progress = progress
        self.tag_cache = tag_cache
        self.all_tags = store.list_tags(repo)
        visible = [t for t in self.all_tags if not referrers.is_internal_tag(t)]
        self.version_tags = version.sort_newest_first(visible)
        self.other_tags = sorted(set(visible) - set(self.version_tags))
        self._record_tags = referrers.records_by_subject(self.all_tags)   # once, not per image
        self._by_digest: Dict[str, Image] = {}

    def _head(self, tag: str) -> Optional[Descriptor]:
        try:
            return self.store.head_manifest(self.repo.with_tag(tag))
        except NotFoundError:
            return None   # deleted between listing and reading

    def _resolve(self, tag: str) -> Optional[Descriptor]:
        cached = self.tag_cache.get(tag) if self.tag_cache is not None else None
        if cached is not None:
            return cached
        desc = self._head(tag)
        if desc is not None and self.tag_cache is not None:
            self.tag_cache.put(tag, desc)
        return desc

    def _records(self, desc: Descriptor) -> List[Record]:
        found = referrers.list_referrers(self.store, self.repo, desc.digest, self.all_tags,
                                         workers=1, prefer_record_tags=True, grouped=self._record_tags,
                                         known=self.tag_cache.records if self.tag_cache is not None else None)
        return [r for r in (Record.from_descriptor(d) for d in found) if r is not None]

    def images(self, batch: int = SCAN_WORKERS) -> Iterator[Image]:
        """Distinct images in version order, newest first. The first `batch` tags are resolved
        together before the first image is given out; later rounds grow."""
        tags = self.version_tags
        try:
            yield from self._walk(tags, batch)
        finally:   # also when the caller stops early (pick): what was learnt is kept
            if self.tag_cache is not None:
                self.tag_cache.save(keep=self.version_tags)

    def _walk(self, tags: List[str], batch: int) -> Iterator[Image]:
        done = start = 0
        with ThreadPoolExecutor(max_workers=SCAN_WORKERS) as pool:
            while start < len(tags):
                chunk = tags[start:start + batch]
                start += len(chunk)
                descs = list(pool.map(self._resolve, chunk))
                fresh = {d.digest: d for d in descs if d and d.digest not in self._by_digest}
                for desc, recs in zip(fresh.values(), pool.map(self._records, fresh.values())):
                    self._by_digest[desc.digest] = Image(self.repo, desc, recs)
                for tag, desc in zip(chunk, descs):
                    done += 1
                    if desc is None:
                        continue
                    image = self._by_digest[desc.digest]
                    first = not image.tags
                    image.tags.append(tag)
                    if first:
                        yield image
                if self.progress:
                    self.progress(done, len(tags))
                batch = min(batch * 4, 256)

    def verified(self, image: Image) -> bool:
        """Does the image's first tag still point at it? One request; drops a stale cache entry."""
        tag = image.tags[0]
        desc = self._head(tag)
        if desc is not None and desc.digest == image.digest:
            return True
        if self.tag_cache is not None:
            self.tag_cache.forget(tag)
            self.tag_cache.save()
        return False

    def channel_digest(self, channel: str) -> Optional[str]:
        """Where the channel tag points now, or None. Always asked: channel tags move."""
        if channel not in self.other_tags and channel not in self.version_tags:
            return None
        desc = self._head(channel)
        return desc.digest if desc else None


def statement(store: Store, repo: Ref, record_digest: str) -> dict:
    """The in-toto statement a record carries: record manifest -> its one layer -> JSON. A DSSE
    envelope (a signed record) is unwrapped to the statement inside."""
    manifest = store.get_manifest(repo.with_digest(record_digest)).data
    layers = manifest.get("layers") or []
    if not layers or not isinstance(layers[0], dict) or "digest" not in layers[0]:
        raise NotFoundError(f"record {record_digest} in {repo.name} has no payload layer",
                            "it was not written by shipmark; `shipmark status` lists the image's records")
    try:
        doc = json.loads(store.get_blob(repo, layers[0]["digest"]))
        if layers[0].get("mediaType") == mt.DSSE_ENVELOPE:
            doc = json.loads(base64.b64decode(doc["payload"]))
    except (ValueError, KeyError, TypeError):
        raise InputError(f"record {record_digest} in {repo.name} does not hold an in-toto statement",
                         "it was not written by shipmark or is damaged") from None
    if not isinstance(doc, dict):
        raise InputError(f"record {record_digest} in {repo.name} does not hold an in-toto statement")
    return doc


def newest_first(records: Iterable[Record]) -> List[Record]:
    return sorted(records, key=lambda r: r.order, reverse=True)

