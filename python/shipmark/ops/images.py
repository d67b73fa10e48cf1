"""Reading images and their records from a store: the shared part of every use case."""

import base64
import dataclasses
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from ..core import mediatype as mt
from ..core.descriptor import Descriptor, embedded
from ..core.dsse import Verifier
from ..core.policy import Policy
from ..core.record import NewRecord, Record, parse_time
from ..core.ref import DIGEST_RE, Ref
from ..core.state import ImageState, fold
from ..core.trust import READING_RULES, Reading, Untrusted, admit, is_record, keys_id, read_record
from ..errors import InputError, NotFoundError
from ..stores.base import Store, TooLargeError
from ..stores.discovery import Discovery, is_internal_tag
from .trail import Moved, Trails
from .workers import WORKERS, Workers


@dataclass
class Image:
    repo: Ref
    descriptor: Descriptor
    records: List[Record]
    tags: List[str] = field(default_factory=list)   # version and channel tags pointing here
    found: Optional[Discovery] = None                # the repository's discovery, for writes
    untrusted: List[Untrusted] = field(default_factory=list)   # records found that do not count
    trails: Optional[Trails] = None   # where the repository's channel tags have been (`after:`)

    def __post_init__(self):
        self.moved = Moved(self)

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
            self._state, self._state_key = fold(self.records, self.moved), key
        return self._state

    @property
    def built_at(self) -> Optional[datetime]:
        prov = self.state.provenance
        return parse_time(prov.created) if prov else None


def checked_records(found: Discovery, subject_digest: str, policy: Optional[Policy] = None,
                    now: Optional[datetime] = None) -> Tuple[List[Record], List[Untrusted]]:
    """The one place where found records become evidence: each record discovery found for the
    image is read (manifest and payload) and checked by core.trust, or its reading is taken from
    what discovery remembers for these keys. Returns the records that count and the ones that
    do not, with the reason."""
    now = now or datetime.now(timezone.utc)
    signers = policy.signers if policy is not None else {}
    read_with = f"{subject_digest} {keys_id(signers)} {READING_RULES}"
    counted: List[Record] = []
    ignored: List[Untrusted] = []
    for desc in found.records(subject_digest):
        hint = desc.annotations or {}
        if desc.artifact_type != mt.RECORD_ARTIFACT:
            continue   # a signature or SBOM: not a record, not our business
        reading = _kept_reading(found, desc.digest, read_with)
        if reading is None:
            reading, lasting = _read(found, subject_digest, desc, signers)
            if reading is None:
                continue
            if lasting:
                found.keep_reading(desc.digest, read_with, reading.to_json())
        record, why = admit(reading, policy, now)
        if record is not None:
            counted.append(record)
        elif why is not None:
            ignored.append(Untrusted(desc.digest, why, hint.get(mt.A_KIND), hint.get(mt.A_CREATED)))
    return counted, ignored


def _kept_reading(found: Discovery, record_digest: str, read_with: str) -> Optional[Reading]:
    kept = found.reading(record_digest, read_with)
    if kept is None:
        return None
    try:
        return Reading.from_json(kept)
    except (KeyError, TypeError, ValueError):
        return None   # damaged: read the record again


def _read(found: Discovery, subject_digest: str, desc: Descriptor,
          signers: Mapping[str, Verifier]) -> Tuple[Optional[Reading], bool]:
    """The record's reading (None for a referrer that is not a shipmark record), and whether it
    lasts: what the bytes say does; "not found" does not (the bytes may come back)."""
    store = found.store
    try:
        manifest = found.take_manifest(desc.digest).data
    except NotFoundError:
        return Reading(None, "record manifest not found (listed, but deleted)"), False
    except InputError:
        return Reading(None, "record manifest is not valid JSON"), True
    if not isinstance(manifest, dict) or not is_record(manifest):
        return None, False
    layers = manifest.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return Reading(None, "a record has exactly one layer"), True
    layer = layers[0]
    digest, size = layer.get("digest"), layer.get("size")
    if not isinstance(digest, str) or not DIGEST_RE.match(digest) or not isinstance(size, int):
        return Reading(None, "record layer descriptor is malformed"), True
    if size > store.limits.payload_bytes:   # the limit may be raised: this reading does not last
        return Reading(None, "record layer is larger than the payload limit"), False
    try:
        payload = embedded(layer)
    except ValueError as exc:
        return Reading(None, f"record layer: {exc}"), True
    if payload is None:
        try:
            payload = _payload(store, found.repo, digest)
        except NotFoundError:
            return Reading(None, f"record payload {digest} not found"), False
        except (TooLargeError, InputError) as exc:   # larger than it says, or a damaged layout
            return Reading(None, exc.message), False
    return read_record(desc.digest, manifest, layer.get("mediaType"), payload, subject_digest, signers), True


def _payload(store: Store, repo: Ref, digest: str) -> bytes:
    """A record's layer (at most the payload limit), from the store's on-disk cache when it has
    one (content-addressed, so a hit is never stale)."""
    root = getattr(store, "cache_root", None)
    cache = None
    limit = store.limits.payload_bytes
    if root:
        from ..stores.cache import ManifestCache
        cache = ManifestCache(os.path.join(root, "payloads"), limit)
        hit = cache.get(digest)
        if hit is not None:
            return hit[1]
    data = store.get_blob(repo, digest, max_bytes=limit)   # checked against its digest by the store
    if cache is not None:
        cache.put(digest, "payload", data)
    return data


def load(store: Store, ref: Ref, found: Optional[Discovery] = None, policy: Optional[Policy] = None,
         now: Optional[datetime] = None, trails: Optional[Trails] = None,
         desc: Optional[Descriptor] = None) -> Image:
    """One image by tag or digest, with its records (those that count; `untrusted` the rest).
    `desc`: where `ref` points, when the caller has just asked the registry."""
    found = found or Discovery(store, ref.repo)
    desc = desc or store.head_manifest(ref)
    records, untrusted = checked_records(found, desc.digest, policy, now)
    if trails is None:
        trails = repository_trails(store, ref.repo, found, policy, now)
    return Image(ref.repo, desc, records, [ref.tag] if ref.tag else [], found, untrusted, trails)


def repository_trails(store: Store, repo: Ref, found: Discovery, policy: Optional[Policy],
                      now: Optional[datetime]) -> Trails:
    """Trails that read the channel tags and images of `repo` when a question needs them."""
    images: Dict[str, Optional[Image]] = {}

    def head(channel: str) -> Optional[str]:
        desc = found.head(channel)
        return desc.digest if desc else None

    def image(digest: str) -> Optional[Image]:
        if digest not in images:
            try:
                images[digest] = load(store, repo.with_digest(digest), found, policy, now, trails)
            except NotFoundError:
                images[digest] = None   # deleted since: the trail ends there
        return images[digest]

    trails = Trails(head, image)
    return trails


def attach(store: Store, image: Image, new: NewRecord) -> Record:
    found = image.found or Discovery(store, image.repo)
    found.attach(image.descriptor, new.manifest, new.blobs)
    # What this process just wrote counts for its own answer without a re-read.
    rec = Record.from_descriptor(new.descriptor)
    assert rec is not None   # built by this process as a record
    restores = new.statement["predicate"].get("restores")
    if restores:
        rec = dataclasses.replace(rec, restores=tuple(restores))
    image.records.append(rec)
    return rec


class Scan:
    """A repository's images, newest first, resolved lazily and concurrently.

    The tag list is read once; version tags are ordered without a request (discovery keeps the
    order); each round of tags is resolved (HEAD, or what discovery remembers of version tags)
    on the command's workers (one pool for every walk of a command, see ops/workers.py; a Scan
    without one makes its own), and images are memoised by digest, so a walk that stops early
    (pick) costs O(k) requests, not O(N). Records come from the tag list (see
    stores/discovery.py).
    """

    def __init__(self, store: Store, repo: Ref, progress: Optional[Callable[[int, int], None]] = None,
                 found: Optional[Discovery] = None, policy: Optional[Policy] = None,
                 now: Optional[datetime] = None, workers: Optional[Workers] = None):
        self.store = store
        self.repo = repo
        self.policy = policy
        self.now = now or datetime.now(timezone.utc)
        self.progress = progress
        self.workers = workers
        self.found = found or Discovery(store, repo)
        self.found.versions()   # the tag list, read now: NotFoundError for a repository that is not there
        self._by_digest: Dict[str, Image] = {}
        self.trails = Trails(self.channel_digest, self._image_at)

    # The tag lists are the discovery's, not copies: images keep their scan (channel trails ask
    # it), and a fleet-wide command closes each discovery when its service is done.
    @property
    def all_tags(self) -> List[str]:
        return self.found.tags()

    @property
    def version_tags(self) -> List[str]:
        """Newest first."""
        return self.found.versions()[0]

    @property
    def other_tags(self) -> List[str]:
        """Visible tags outside the version scheme (channels, deployed.<target>, latest)."""
        return self.found.versions()[1]

    def images(self, batch: int = WORKERS) -> Iterator[Image]:
        """Distinct images in version order, newest first. The first `batch` tags are resolved
        together before the first image is given out; later rounds double."""
        if self.workers is not None:
            yield from self._walk(self.workers, batch)
        else:
            with Workers() as workers:
                yield from self._walk(workers, batch)

    def _walk(self, workers: Workers, batch: int) -> Iterator[Image]:
        tags = self.version_tags
        done = start = 0
        while start < len(tags):
            chunk = tags[start:start + batch]
            start += len(chunk)
            descs = workers.map(self.found.resolve_version, chunk)
            fresh = list({d.digest: d for d in descs if d and d.digest not in self._by_digest}.values())
            for desc, (recs, untrusted) in zip(fresh, workers.map(self._records, fresh)):
                self._by_digest[desc.digest] = Image(self.repo, desc, recs, found=self.found,
                                                     untrusted=untrusted, trails=self.trails)
            for tag, named in zip(chunk, descs):
                done += 1
                if named is None:
                    continue
                image = self._by_digest[named.digest]
                first = not image.tags
                image.tags.append(tag)
                if first:
                    yield image
            if self.progress:
                self.progress(done, len(tags))
            batch = min(batch * 2, 64)

    def _records(self, desc: Descriptor) -> Tuple[List[Record], List[Untrusted]]:
        return checked_records(self.found, desc.digest, self.policy, self.now)

    def load(self, ref: Ref) -> Image:
        """One image of this repository by tag or digest, reading what the scan has read."""
        return load(self.store, ref, self.found, self.policy, self.now, self.trails)

    def _image_at(self, digest: str) -> Optional[Image]:
        """An image a channel trail passes, from the walk when it got there already; an image
        read here is remembered, and the walk gives it out in its turn."""
        if digest not in self._by_digest:
            try:
                self._by_digest[digest] = self.load(self.repo.with_digest(digest))
            except NotFoundError:
                return None
        return self._by_digest[digest]

    def verified(self, image: Image) -> bool:
        """Does the image's first tag still point at it? One request when the answer came from
        memory (forgetting a stale entry), none when this command asked the registry."""
        tag = image.tags[0]
        if self.found.asked_now(tag):
            return True
        desc = self.found.head(tag)
        if desc is not None and desc.digest == image.digest:
            return True
        self.found.forget_version(tag)
        return False

    def channel_digest(self, channel: str) -> Optional[str]:
        """Where the channel tag points now, or None. Always asked: channel tags move."""
        if is_internal_tag(channel) or not self.found.has_tag(channel):
            return None
        desc = self.found.head(channel)
        return desc.digest if desc else None


LOOKUP_BATCH = 16


def version_tags_of(found: Discovery, digest: str, version_tags: List[str]) -> List[str]:
    """The version tags that name `digest`, for an image given by digest. Version tags are
    resolved newest first (what discovery remembers needs no request), a batch at a time, until
    a batch has one."""
    hits: List[str] = []
    with Workers() as workers:
        for start in range(0, len(version_tags), LOOKUP_BATCH):
            chunk = version_tags[start:start + LOOKUP_BATCH]
            descs = workers.map(found.resolve_version, chunk)
            hits += [t for t, d in zip(chunk, descs) if d is not None and d.digest == digest]
            if hits:
                break
    return hits


def statement(store: Store, repo: Ref, record_digest: str) -> dict:
    """The in-toto statement a record carries: record manifest -> its one layer -> JSON. A DSSE
    envelope (a signed record) is unwrapped to the statement inside."""
    manifest = store.get_manifest(repo.with_digest(record_digest)).data
    layers = manifest.get("layers") or []
    if not layers or not isinstance(layers[0], dict) or "digest" not in layers[0]:
        raise NotFoundError(f"record {record_digest} in {repo.name} has no payload layer",
                            "it was not written by shipmark; `shipmark status` lists the image's records")
    try:
        raw = embedded(layers[0])
        if raw is None:
            raw = store.get_blob(repo, layers[0]["digest"], max_bytes=store.limits.payload_bytes)
        doc = json.loads(raw)
        if layers[0].get("mediaType") == mt.DSSE_ENVELOPE:
            doc = json.loads(base64.b64decode(doc["payload"]))
    except (ValueError, KeyError, TypeError):
        raise InputError(f"record {record_digest} in {repo.name} does not hold an in-toto statement",
                         "it was not written by shipmark or is damaged") from None
    if not isinstance(doc, dict):
        raise InputError(f"record {record_digest} in {repo.name} does not hold an in-toto statement")
    return doc


def ignored(image: Image) -> dict:
    """`{"untrusted": [...]}`: the records of an image that do not count, for listings of
    skipped images."""
    return {"untrusted": [u.to_json() for u in image.untrusted]}


def newest_first(records: Iterable[Record]) -> List[Record]:
    return sorted(records, key=lambda r: r.order, reverse=True)

