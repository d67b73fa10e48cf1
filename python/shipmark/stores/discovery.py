"""Record discovery: which records an image has, decided in one place.

The record set of an image is the same on every store (Docker Registry 2.x, a registry with
the OCI referrers API, an OCI layout), warm cache or cold:

    the record manifests named by a per-record tag `sha256-<first 32 hex of the subject>.<64 hex
    of the record>` whose `subject` is the image.

Why tags and not the registry's own listing: on Docker Registry 2.x the shared `sha256-<hex>`
index is a read-modify-write race that loses records under concurrent writers, while nobody but
its writer ever writes a record's own tag; one tag listing answers for every image of a
repository, so a warm scan sends one request whatever the number of images; and the answer
depends only on what the registry holds, never on what a cache remembers (records are
content-addressed, so a remembered record is exactly what its tag names).

What shipmark publishes for other OCI tools (`oras discover`, `regctl artifact list`, cosign):
records carry `subject`, so a registry with the referrers API lists them by itself; elsewhere
every write rewrites the `sha256-<hex>` index so that it lists every referrer that exists
(records, and what other tools attached: signatures, SBOMs), dropping dangling and malformed
entries, and checks the tag list again afterwards so that the last of any number of concurrent
writers leaves a complete index. A record that another tool attached with shipmark's artifact
type joins the set when a shipmark write on that image, or `shipmark repair`, gives it a tag of
its own ("adopts" it).

Reading a record costs one request: a small payload travels in its manifest (the layer's
`data`). Without the referrers API the index also carries a copy of each record manifest, so a
cold read of an image's records is one request; copies supply bytes, never membership, and
count only when their bytes have the digest that the record's own tag names.

One `Discovery` per repository and command: it reads the tag list once, owns the referrers-API
probe (remembered per registry and repository) and the repository's cache, and saves that cache
itself: when it is dropped, at exit, on `flush()` (called when a command's stores close), or on
`close()` when a command that reads many repositories is done with one.

The tag list is kept sorted by name, so the internal `sha256-*` tags are one slice found by
binary search and an image's per-record tags are found the same way: nothing is done per tag
but the sort (C code), and what is kept is the list itself.

Why a per-record tag is as long as it is (measured for the fleet-scale plan, issue 15). Docker
Registry 2.8 has no tag paging, so every plan lists every tag of a repository: five tags per
image at three records each, 426 KB per 1,000 images. Listing them costs the registry about
2 us of CPU per tag and 16 ns per character (11 ms for 5,000 tags), the client about 0.75 us
and 3 ns. A shorter tag keeps the count: a 16-hex subject part and the record digest in base32
(76 characters) would save some 1.6 ms of CPU per 1,000 images, about 8% of a warm fleet plan,
while every shipmark that reads only this format (a Jenkins job pinned to an older library)
would stop seeing the records written in the new one, rejections among them. The record part
stays the whole digest for more than its length: a record is read by the digest its tag's name
spells, so pointing the tag at another manifest neither hides the record nor forges one (its
subject and signature are checked), and the name alone says what a cached reading belongs to;
a shortened digest would have to be resolved through the tag on every run, and anyone allowed
to push can move a tag. The subject part only narrows the candidates: 32 hex leave accidental
collisions at 2^-128, someone crowding an image's candidates uses its real prefix whatever the
length, and a candidate whose manifest names another subject is skipped.
"""

import logging
import re
import threading
import time
import weakref
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..core import mediatype as mt
from ..core import version
from ..core.descriptor import EMBED_BYTES, Descriptor, Manifest, canonical_json, embedded, sha256, with_data
from ..core.ref import DIGEST_RE, Ref
from ..errors import InputError, NotFoundError, RegistryError, RemoteError, ShipmarkError
from .base import ReferrersAnswer, ReferrersAPI, Store
from .repocache import RepoCache

log = logging.getLogger("shipmark.discovery")

_RECORD_TAG_RE = re.compile(r"sha256-([a-f0-9]{32})\.([a-f0-9]{64})")
INTERNAL_PREFIX = "sha256-"
_AFTER_INTERNAL = "sha256."   # the first name after every `sha256-...` in sorted order
SMALL_BLOB = 64 * 1024   # record payloads: upload without asking first (they are new)
PUBLISH_ROUNDS = 10      # index rewrites per write while other writers keep adding records
CHECK_LIMIT = 64         # index entries one write checks beyond its own records
INDEX_COPIES_BYTES = 256 * 1024   # record manifests one index carries copies of, in all


def index_tag(subject_digest: str) -> str:
    """The OCI referrers tag schema's tag for a subject: `sha256-<64 hex>`."""
    return subject_digest.replace(":", "-")


def record_tag(subject_digest: str, record_digest: str) -> str:
    """A record's own tag: 7 + 32 + 1 + 64 = 104 characters, under the 128 limit."""
    return f"sha256-{subject_digest[7:39]}.{record_digest[7:]}"


def is_internal_tag(tag: str) -> bool:
    """`sha256-*`: tags of the referrers tag schema and shipmark's record tags; listings hide
    them."""
    return tag.startswith(INTERNAL_PREFIX)


def is_record_tag(tag: str) -> bool:
    return bool(_RECORD_TAG_RE.fullmatch(tag))


@dataclass(frozen=True)
class Skipped:
    """A listed referrer that was not used, and why."""

    digest: str
    why: str

    def to_json(self) -> dict:
        return {"digest": self.digest, "why": self.why}


@dataclass
class Listed:
    """What the registry itself lists as referrers of one subject."""

    source: str                      # "referrers API", "index sha256-...", or "none"
    referrers: List[Descriptor] = field(default_factory=list)
    skipped: List[Skipped] = field(default_factory=list)


@dataclass
class Repair:
    subject: str
    adopted: List[str] = field(default_factory=list)     # records that got a tag of their own
    dropped: List[Skipped] = field(default_factory=list)  # index entries left out
    published: int = 0                                    # entries the index lists afterwards
    rewritten: bool = False

    def to_json(self) -> dict:
        return {"subject": self.subject, "adopted": self.adopted,
                "dropped": [d.to_json() for d in self.dropped], "published": self.published,
                "rewritten": self.rewritten}


class Discovery:
    """The records of one repository's images (see the module docstring for the rule)."""

    def __init__(self, store: Store, repo: Ref):
        self.store = store
        self.repo = repo.repo
        root = getattr(store, "cache_root", None)
        self._cache = RepoCache(self.repo.name, root) if root else None
        self._lock = threading.Lock()
        self._tags: Optional[List[str]] = None   # sorted by name: internal ones are one slice
        self._versions: Optional[Tuple[List[str], List[str]]] = None
        self._asked: Set[str] = set()
        self._answers: Dict[str, ReferrersAnswer] = {}   # the probe's own answer, used once
        self._records: Dict[str, tuple] = {}   # learnt in this command; the cache has the rest
        self._manifests: Dict[str, Manifest] = {}   # record manifests read, not yet taken
        if self._cache is not None:
            # What was learnt is kept, however it ends.
            self._saver = weakref.finalize(self, self._cache.save)
            _OPEN.add(self)

    def __enter__(self) -> "Discovery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """The command is done with this repository: save what was learnt, and let go of the
        tag list and the cache (a plan over 500 services keeps 500 results, not 500 tag lists).
        Still usable afterwards, without memory: the tags are listed again if asked."""
        self.save()
        with self._lock:
            if self._cache is not None:
                self._saver.detach()
                self._cache = None
            self._tags, self._versions, self._records, self._manifests = None, None, {}, {}

    # -- tags ---------------------------------------------------------------------------------

    def tags(self) -> List[str]:
        """Every tag of the repository, sorted by name, read once per command. NotFoundError
        when the repository does not exist (Registry 2.8 says so until its first tag)."""
        with self._lock:
            if self._tags is None:
                self._tags = sorted(self.store.list_tags(self.repo))
            return self._tags

    def _known_tags(self) -> List[str]:
        """The tags, where a repository that does not exist yet has none (and no records)."""
        try:
            return self.tags()
        except NotFoundError:
            with self._lock:
                if self._tags is None:
                    self._tags = []
            return self._tags

    def _internal(self, tags: List[str]) -> Tuple[int, int]:
        """Where the `sha256-*` tags are in the sorted list: one slice, found without looking
        at each tag."""
        lo = bisect_left(tags, INTERNAL_PREFIX)
        return lo, bisect_left(tags, _AFTER_INTERNAL, lo)

    def visible_tags(self) -> List[str]:
        """The tags listings show: all but `sha256-*`."""
        tags = self.tags()
        with self._lock:
            lo, hi = self._internal(tags)
            return tags[:lo] + tags[hi:]

    def versions(self) -> Tuple[List[str], List[str]]:
        """(version tags newest first, other visible tags sorted by name). The order is kept in
        the repository's cache and merged with the tags that are new (core.version.order), so a
        run parses only tags it has not seen; the answer is the one a fresh sort gives."""
        visible = self.visible_tags()
        with self._lock:
            if self._versions is None:
                ascending, others = version.order(visible, self._cache.order if self._cache else ())
                if self._cache is not None:
                    self._cache.put_order(ascending)
                self._versions = ascending[::-1], others
            return self._versions

    def has_tag(self, tag: str) -> bool:
        tags = self._known_tags()
        with self._lock:
            i = bisect_left(tags, tag)
            return i < len(tags) and tags[i] == tag

    def _add(self, tag: str) -> None:
        """A tag this command wrote (the lock held); nothing to do before the tags are read."""
        if self._tags is None:
            return
        i = bisect_left(self._tags, tag)
        if i == len(self._tags) or self._tags[i] != tag:
            self._tags.insert(i, tag)

    def _candidates(self, subject_digest: str) -> List[str]:
        """Record digests that per-record tags name for this subject (its first 32 hex)."""
        tags = self._known_tags()
        prefix = f"{INTERNAL_PREFIX}{subject_digest[7:39]}."
        out: List[str] = []
        with self._lock:
            i = bisect_left(tags, prefix)
            while i < len(tags) and tags[i].startswith(prefix):
                m = _RECORD_TAG_RE.fullmatch(tags[i])
                if m and "sha256:" + m.group(2) not in out:
                    out.append("sha256:" + m.group(2))
                i += 1
        return out

    def _has_records(self) -> bool:
        """Does any per-record tag exist in the repository?"""
        tags = self._known_tags()
        with self._lock:
            lo, hi = self._internal(tags)
            return any(_RECORD_TAG_RE.fullmatch(t) for t in tags[lo:hi])

    def head(self, tag: str) -> Optional[Descriptor]:
        """Where a tag points now (one request), or None when it is gone."""
        try:
            return self.store.head_manifest(self.repo.with_tag(tag))
        except NotFoundError:
            return None

    def resolve_version(self, tag: str) -> Optional[Descriptor]:
        """Where a version tag points: remembered across runs once asked (see repocache)."""
        kept = self._cache.tags.get(tag) if self._cache is not None else None
        if kept is not None:
            return kept
        desc = self.head(tag)
        self._asked.add(tag)
        if desc is not None and self._cache is not None:
            self._cache.put_tag(tag, desc)
        return desc

    def asked_now(self, tag: str) -> bool:
        """Was this tag resolved by a request in this command (not from memory)?"""
        return tag in self._asked

    def forget_version(self, tag: str) -> None:
        """A remembered version tag turned out stale (it was pushed again)."""
        if self._cache is not None:
            self._cache.forget_tag(tag)

    # -- reading records ----------------------------------------------------------------------

    def records(self, subject_digest: str) -> List[Descriptor]:
        """The record set of one image, sorted by digest."""
        candidates = self._candidates(subject_digest)
        self._read_copies(subject_digest, candidates)
        found = []
        for digest in candidates:
            desc = self._record(digest, subject_digest)
            if desc is not None:
                found.append(desc)
        return sorted(found, key=lambda d: d.digest)

    def _record(self, digest: str, subject_digest: str) -> Optional[Descriptor]:
        known = self._read(digest)
        if known is None or known[1] != subject_digest:
            return None   # gone, not a manifest, or a 128-bit prefix collision
        return known[0]

    def subject_of(self, record_digest: str) -> Optional[str]:
        """The subject a record manifest names (read once, remembered), or None."""
        known = self._read(record_digest)
        return known[1] or None if known else None

    def _known(self, digest: str) -> Optional[tuple]:
        known = self._records.get(digest)
        if known is None and self._cache is not None:
            known = self._cache.records.get(digest)
        return known

    def _read(self, digest: str) -> Optional[tuple]:
        known = self._known(digest)
        if known is not None:
            return known
        try:
            manifest = self.store.get_manifest(self.repo.with_digest(digest))
            subject = (manifest.data.get("subject") or {}).get("digest")
            desc = manifest.descriptor()
        except NotFoundError:
            return None   # deleted between the listing and now
        except RemoteError:
            raise
        except ShipmarkError as exc:
            log.warning("record %s in %s is not a manifest: %s", digest, self.repo.name, exc.message)
            return None
        return self._remember(manifest, desc, subject if isinstance(subject, str) else "")

    def _remember(self, manifest: Manifest, desc: Descriptor, subject: str) -> tuple:
        with self._lock:
            self._records[manifest.digest] = (desc, subject)
            self._manifests[manifest.digest] = manifest
            if self._cache is not None:
                self._cache.put_record(manifest.digest, desc, subject)
        return desc, subject

    def _read_copies(self, subject_digest: str, candidates: List[str]) -> None:
        """Read an image's records in one request where its index carries copies of them
        (`publish` puts them there): on Docker Registry 2.8 a cold scan then sends one request
        per image instead of one per record. A copy counts only if its bytes have the digest
        the record's own tag names, so the index supplies bytes, never membership: a copy that
        is missing, damaged or foreign leaves that record to be read on its own."""
        wanted = {d for d in candidates if self._known(d) is None}
        if len(wanted) < 2 or not self.has_tag(index_tag(subject_digest)):
            return   # one record costs one request either way
        try:
            entries = self.store.get_manifest(self.repo.with_tag(index_tag(subject_digest))).data.get("manifests")
        except RemoteError:
            raise
        except ShipmarkError:
            return   # gone or not JSON: each record is read on its own
        self._take_copies(entries, wanted)

    def _take_copies(self, entries: object, wanted: Set[str]) -> None:
        """Remember the records of `wanted` that index entries carry whole copies of."""
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict) or entry.get("digest") not in wanted:
                continue
            manifest = _copy_in(entry)
            if manifest is None:
                continue
            subject = (manifest.data.get("subject") or {}).get("digest")
            self._remember(manifest, manifest.descriptor(), subject if isinstance(subject, str) else "")

    def take_manifest(self, record_digest: str, keep: bool = False) -> Manifest:
        """A record's manifest: as read in this command (on its own or from the index's copy),
        handed over once (unless `keep`) so that a scan of a large repository does not hold
        every record's bytes; else from the store (whose cache keeps what it read)."""
        with self._lock:
            known = self._manifests.get(record_digest) if keep else self._manifests.pop(record_digest, None)
        return known or self.store.get_manifest(self.repo.with_digest(record_digest))

    def reading(self, record_digest: str, read_with: str) -> Optional[dict]:
        """What a record's bytes said when read for the same image with the same keys
        (`read_with` says both; ops/images.py makes and checks readings)."""
        if self._cache is None:
            return None
        kept = self._cache.readings.get(record_digest)
        return kept[1] if kept is not None and kept[0] == read_with else None

    def keep_reading(self, record_digest: str, read_with: str, reading: dict) -> None:
        if self._cache is not None:
            with self._lock:
                self._cache.put_reading(record_digest, read_with, reading)

    # -- writing records ----------------------------------------------------------------------

    def attach(self, subject: Descriptor, manifest: Manifest, blobs: Dict[str, bytes],
               publish: bool = True) -> Descriptor:
        """Push a record (blobs, then the manifest under its own tag) and publish it for other
        tools (callers attaching many at once publish once, at the end). Idempotent: a rerun
        with the same bytes converges."""
        self._push_blobs(blobs, skip_empty=self._has_records())
        own = record_tag(subject.digest, manifest.digest)
        try:
            self.store.put_manifest(self.repo.with_tag(own), manifest)
        except RegistryError:
            # Registry 2.8 can refuse a manifest (400 DIGEST_INVALID) while other writers are
            # uploading the same blob; the PUT is idempotent: check the blobs and try once more.
            self._push_blobs(blobs, ask_first=True)
            self.store.put_manifest(self.repo.with_tag(own), manifest)
        with self._lock:
            self._add(own)
        desc, _ = self._remember(manifest, manifest.descriptor(), subject.digest)
        if publish and not self.lists_referrers_itself(subject.digest):
            try:
                self.publish(subject.digest)
            except RemoteError as exc:   # the record is safe under its own tag; repair converges
                log.warning("could not update the referrers index of %s@%s: %s", self.repo.name,
                            subject.digest, exc.message)
        return desc

    def _push_blobs(self, blobs: Dict[str, bytes], skip_empty: bool = False, ask_first: bool = False) -> None:
        """Upload a record's blobs. The empty config is shared by every record of the repository
        (`skip_empty` once one exists); a small payload is new, so it is uploaded without asking."""
        for digest, data in blobs.items():
            if digest == mt.EMPTY_DIGEST and skip_empty:
                continue
            if (ask_first or len(data) > SMALL_BLOB or digest == mt.EMPTY_DIGEST) \
                    and self.store.blob_exists(self.repo, digest):
                continue
            self.store.put_blob(self.repo, data, digest)

    def lists_referrers_itself(self, subject_digest: str) -> bool:
        """Does the registry keep the referrers listing (OCI referrers API)? Asked once per
        registry and repository and remembered for a day."""
        if not isinstance(self.store, ReferrersAPI):
            return False
        key = (self.repo.registry, self.repo.repository)
        with _PROBE_LOCK:
            known = _probed(self.store).get(key)
            if known is None and self._cache is not None:
                known = self._cache.api(time.time())
            if known is None:
                answer = self.store.referrers(self.repo, subject_digest)
                known = answer.supported
                self._answers[subject_digest] = answer   # `listed` needs no second request
                if self._cache is not None:
                    self._cache.put_api(known, time.time())
            _probed(self.store)[key] = known
        return known

    def publish(self, subject_digest: str, also: Sequence[Descriptor] = ()) -> Repair:
        """Make the `sha256-<hex>` index list every referrer of the subject that exists: the
        records of its set, records adopted from the index, and other tools' referrers that
        still exist and name this subject (`also`: referrers just copied here). Checks the tag
        list again after writing and repeats (up to 10 rounds) while concurrent writers are adding
        records. That check comes after the write and nothing read before it can stand in: writers
        that read the same index before either writes each find it agreeing with their tag list,
        and the last write drops the others' records (skipping the check when the index read
        agreed left 1 of 50 concurrent writers' records in the index)."""
        repair = Repair(subject_digest)
        for _ in range(PUBLISH_ROUNDS):
            entries, previous = self._read_index(subject_digest, repair)
            entries += [d for d in also if d.digest not in {e.digest for e in entries}]
            records = self.records(subject_digest)
            ours = {d.digest: d for d in records}
            others = [d for d in entries if d.digest not in ours]
            for desc in others[:CHECK_LIMIT]:
                kept = self._check_listed(subject_digest, desc, repair)
                if kept is not None:
                    ours[kept.digest] = kept
            for desc in others[CHECK_LIMIT:]:   # beyond what one write checks: kept as listed
                ours[desc.digest] = desc
            index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                     "manifests": self._entries(ours, records)}
            raw = canonical_json(index)
            repair.published = len(ours)
            if previous != sha256(raw):
                self.store.put_manifest(self.repo.with_tag(index_tag(subject_digest)),
                                        Manifest(mt.OCI_INDEX, raw))
                repair.rewritten = True
            if not self._new_records_since(subject_digest, set(ours)):
                break
        return repair

    def _entries(self, listed: Dict[str, Descriptor], records: List[Descriptor]) -> List[dict]:
        """The index's entries, sorted by digest; those of the record set carry a copy of the
        record manifest (`_read_copies` reads them), up to INDEX_COPIES_BYTES in all."""
        room = INDEX_COPIES_BYTES
        copied = {d.digest for d in records}
        out = []
        for digest in sorted(listed):
            entry = listed[digest].to_json()
            if digest in copied and room > 0:
                try:
                    raw = self.take_manifest(digest, keep=True).raw   # readers may want it next
                except NotFoundError:
                    raw = b""   # deleted meanwhile: listed, not copied
                if 0 < len(raw) <= min(room, EMBED_BYTES):
                    entry = with_data(entry, raw)
                    room -= len(raw)
            out.append(entry)
        return out

    def _read_index(self, subject_digest: str, repair: Repair):
        """The index's entries (malformed ones dropped and reported) and its digest."""
        tag = index_tag(subject_digest)
        if not self.has_tag(tag):
            return [], None
        try:
            manifest = self.store.get_manifest(self.repo.with_tag(tag))
            entries = manifest.data.get("manifests")
        except NotFoundError:
            return [], None
        except RemoteError:
            raise
        except ShipmarkError:
            repair.dropped.append(Skipped("", f"the index {tag} is not JSON"))
            return [], None
        # Copies of the records not in memory: what a write puts back, what a reader reads next.
        self._take_copies(entries, {d for d in self._candidates(subject_digest) if d not in self._manifests})
        out = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                out.append(_descriptor(entry))
            except ValueError as exc:
                digest = entry.get("digest") if isinstance(entry, dict) else None
                repair.dropped.append(Skipped(digest if isinstance(digest, str) else "", str(exc)))
        return out, manifest.digest

    def _check_listed(self, subject_digest: str, listed: Descriptor, repair: Repair) -> Optional[Descriptor]:
        """An index entry without a tag of its own: keep it only if it exists here and names
        this subject; adopt it into the record set when it is a shipmark record."""
        ref = self.repo.with_digest(listed.digest)
        try:
            self.store.head_manifest(ref)   # a cached copy says nothing about this repository
            manifest = self.store.get_manifest(ref)
            data = manifest.data
        except NotFoundError:
            repair.dropped.append(Skipped(listed.digest, "listed in the index but not in the registry"))
            return None
        except RemoteError:
            raise
        except ShipmarkError:
            repair.dropped.append(Skipped(listed.digest, "not a JSON manifest"))
            return None
        if (data.get("subject") or {}).get("digest") != subject_digest:
            repair.dropped.append(Skipped(listed.digest, "names another subject"))
            return None
        desc = manifest.descriptor()
        if desc.artifact_type == mt.RECORD_ARTIFACT:
            own = record_tag(subject_digest, desc.digest)
            self.store.put_manifest(self.repo.with_tag(own), manifest)
            with self._lock:
                self._add(own)
            repair.adopted.append(desc.digest)
        return desc

    def _new_records_since(self, subject_digest: str, published: Set[str]) -> bool:
        """List the tags again: did another writer add a record of this subject meanwhile?"""
        try:
            fresh = self.store.list_tags(self.repo)
        except NotFoundError:
            return False
        with self._lock:
            self._tags = sorted(set(self._tags or ()) | set(fresh))
        return any(d not in published for d in self._candidates(subject_digest)
                   if self._record(d, subject_digest) is not None)

    # -- what the registry lists --------------------------------------------------------------

    def listed(self, subject_digest: str) -> Listed:
        """Every referrer the registry itself lists for the subject (the referrers API, else
        the `sha256-<hex>` index), for copies, repairs and `status`. Not the record set."""
        if self.lists_referrers_itself(subject_digest):
            # only a ReferrersAPI store lists referrers itself
            answer = (self._answers.pop(subject_digest, None)
                      or self.store.referrers(self.repo, subject_digest))  # type: ignore[attr-defined]
            return Listed("referrers API", sorted(answer.descriptors, key=lambda d: d.digest))
        repair = Repair(subject_digest)
        entries, digest = self._read_index(subject_digest, repair)
        if digest is None and not repair.dropped:
            return Listed("none")
        return Listed(f"index {index_tag(subject_digest)}", entries, repair.dropped)

    def unadopted(self, subject_digest: str, listed: Listed) -> List[Descriptor]:
        """Shipmark records the registry lists that are not in the record set. A listing
        without an artifactType (Quay before 3.12, quay/quay#3047) is settled by the
        referrer's own manifest."""
        ours = {d.digest for d in self.records(subject_digest)}
        out = []
        for desc in listed.referrers:
            if desc.digest in ours:
                continue
            if not desc.artifact_type:
                try:
                    desc = self.store.get_manifest(self.repo.with_digest(desc.digest)).descriptor()
                except NotFoundError:
                    continue
            if desc.artifact_type == mt.RECORD_ARTIFACT:
                out.append(desc)
        return out

    def repair(self, subject_digest: str) -> Repair:
        """Adopt shipmark records that only the registry's listing names, and (without the
        referrers API) rewrite the index to list every referrer that exists."""
        if not self.lists_referrers_itself(subject_digest):
            return self.publish(subject_digest)
        repair = Repair(subject_digest)
        listed = self.listed(subject_digest)
        for desc in self.unadopted(subject_digest, listed):
            self._check_listed(subject_digest, desc, repair)
        repair.published = len(listed.referrers)
        return repair

    def save(self) -> None:
        if self._cache is not None:
            self._cache.save()

    def forget_learnt(self) -> None:
        """Nothing this Discovery learnt is saved, now or when it goes."""
        if self._cache is not None:
            self._saver.detach()
        _OPEN.discard(self)


def _descriptor(entry) -> Descriptor:
    """An index entry as a descriptor, or ValueError saying what is wrong with it."""
    if not isinstance(entry, dict):
        raise ValueError("an index entry that is not an object")
    if not isinstance(entry.get("digest"), str) or not DIGEST_RE.match(entry["digest"]):
        raise ValueError("an index entry whose digest is not sha256")
    try:
        return Descriptor.from_json(entry)
    except ShipmarkError:
        raise ValueError("an index entry without mediaType, digest or size") from None


def _copy_in(entry: dict) -> Optional[Manifest]:
    """The manifest an index entry carries a copy of, when the copy is whole: its bytes have
    the entry's digest and size, and it is a JSON manifest of the entry's media type."""
    media_type = entry.get("mediaType")
    if media_type not in mt.MANIFEST_TYPES:
        return None
    try:
        raw = embedded(entry)
        manifest = Manifest(media_type, raw, entry["digest"]) if raw else None
        data = manifest.data if manifest else None
    except (ValueError, InputError):
        return None
    return manifest if isinstance(data, dict) and data.get("mediaType") == media_type else None


# Process-wide: the open discoveries (for flush) and the API probe, remembered per store object
# (so tests with several registries never share an answer).
_OPEN: "weakref.WeakSet[Discovery]" = weakref.WeakSet()
_PROBES: "weakref.WeakKeyDictionary[object, Dict[tuple, bool]]" = weakref.WeakKeyDictionary()
_PROBE_LOCK = threading.Lock()


def _probed(store) -> Dict[tuple, bool]:
    return _PROBES.setdefault(store, {})


def flush() -> None:
    """Save what every open Discovery learnt (best effort)."""
    for found in list(_OPEN):
        found.save()


def discard() -> None:
    """Keep nothing of what the open Discoveries learnt (the command ended in registry trouble)."""
    for found in list(_OPEN):
        found.forget_learnt()
