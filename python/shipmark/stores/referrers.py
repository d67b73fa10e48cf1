"""Attaching records to an image and finding them again, on any Store.

Where the store has the OCI referrers API, the registry keeps the listing. Otherwise the OCI
referrers tag schema applies: an index under tag `sha256-<subject hex>`. On Docker Registry 2.x
that index is a read-modify-write race (no conditional PUT), which loses records under
concurrent writers, so every record also gets a tag of its own that nobody else writes:
`sha256-<first 32 hex of subject>.<64 hex of record>`. Readers take the union of the index
and these per-record tags; writers refresh the index best-effort for other OCI clients.
"""

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Tuple

from ..core import mediatype as mt
from ..core.descriptor import Descriptor, Manifest, canonical_json
from ..core.ref import Ref
from ..errors import NotFoundError, RemoteError
from .base import ReferrersAPI, Store

_RECORD_TAG_RE = re.compile(r"^sha256-([a-f0-9]{32})\.([a-f0-9]{64})$")
_INTERNAL_TAG_RE = re.compile(r"^sha256-[a-f0-9]{32}")


def fallback_tag(subject_digest: str) -> str:
    return subject_digest.replace(":", "-")


def record_tag(subject_digest: str, record_digest: str) -> str:
    """The per-record tag: 7 + 32 + 1 + 64 = 104 characters, under the 128 limit."""
    return f"sha256-{subject_digest[7:39]}.{record_digest[7:]}"


def is_internal_tag(tag: str) -> bool:
    """Tags shipmark and the referrers tag schema use for bookkeeping; listings hide them."""
    return bool(_INTERNAL_TAG_RE.match(tag))


def records_by_subject(tags: Iterable[str]) -> Dict[str, List[str]]:
    """Per-record tags grouped by the 32-hex subject prefix -> record digests."""
    out: Dict[str, List[str]] = {}
    for tag in tags:
        m = _RECORD_TAG_RE.match(tag)
        if m:
            out.setdefault(m.group(1), []).append("sha256:" + m.group(2))
    return out


def native_api(store: Store) -> Optional[ReferrersAPI]:
    return store if isinstance(store, ReferrersAPI) else None


def uses_api(store: Store, repo: Ref, subject_digest: str) -> bool:
    """Does this store keep the referrers listing itself? Asked once per registry."""
    api = native_api(store)
    if api is None:
        return False
    known = api.has_referrers_api(repo.registry)
    if known is None:
        known = api.referrers(repo, subject_digest) is not None
    return known


def attach(store: Store, repo: Ref, subject: Descriptor, manifest: Manifest,
           blobs: Dict[str, bytes], tags: Optional[List[str]] = None) -> Descriptor:
    """Push blobs and the record manifest (whose `subject` is `subject`), then make it
    discoverable. Idempotent: a rerun with the same bytes converges. `tags`, the repository's
    tag list if the caller has read it already, saves the index refresh a listing."""
    for digest, data in blobs.items():
        if not store.blob_exists(repo, digest):
            store.put_blob(repo, data, digest)
    if uses_api(store, repo, subject.digest):
        store.put_manifest(repo.with_digest(manifest.digest), manifest)
        return manifest.descriptor()
    # Tag schema: the per-record tag is the source of truth, the shared index a courtesy.
    own_tag = record_tag(subject.digest, manifest.digest)
    store.put_manifest(repo.with_tag(own_tag), manifest)
    refresh_index(store, repo, subject.digest, tags=None if tags is None else tags + [own_tag])
    return manifest.descriptor()


def refresh_index(store: Store, repo: Ref, subject_digest: str,
                  tags: Optional[List[str]] = None) -> None:
    """Rewrite the `sha256-<hex>` index as the union of what it holds and every per-record tag.
    Best-effort: a lost race is repaired by the next writer, and readers never depend on it.
    Records found only in the index (copied here by another OCI tool) get their own tag too,
    so that every shipmark record of a subject with per-record tags has one."""
    try:
        if tags is None:
            tags = store.list_tags(repo)
        found = list_referrers(store, repo, subject_digest, tags=tags, use_api=False)
        tagged = set(records_by_subject(tags).get(subject_digest[7:39], []))
        for desc in found:
            if desc.digest not in tagged and (desc.annotations or {}).get(mt.A_KIND):
                manifest = store.get_manifest(repo.with_digest(desc.digest))
                store.put_manifest(repo.with_tag(record_tag(subject_digest, desc.digest)), manifest)
        index = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [d.to_json() for d in found],
        }
        store.put_manifest(repo.with_tag(fallback_tag(subject_digest)),
                           Manifest(mt.OCI_INDEX, canonical_json(index)))
    except RemoteError:
        pass


def list_referrers(store: Store, repo: Ref, subject_digest: str, tags: Optional[List[str]] = None,
                   use_api: bool = True, workers: int = 8, prefer_record_tags: bool = False,
                   grouped: Optional[Dict[str, List[str]]] = None,
                   known: Optional[Dict[str, Descriptor]] = None) -> List[Descriptor]:
    """Every record attached to subject_digest. `tags` (the repository's tag list) may be passed
    in by scans that list the repository once for many images. With `prefer_record_tags`, a
    subject that has per-record tags is read from them alone (the index adds nothing there,
    see refresh_index) once those records are known, saving a request per image. `grouped` is
    records_by_subject(tags), for scans that read many subjects from one tag list. `known` maps
    record digests to their descriptors (content-addressed, so never stale): hits need no
    request, and what was read is added to it."""
    return read_referrers(store, repo, subject_digest, tags, use_api, workers, prefer_record_tags, grouped,
                          known)[0]


def read_referrers(store: Store, repo: Ref, subject_digest: str, tags: Optional[List[str]] = None,
                   use_api: bool = True, workers: int = 8,
                   prefer_record_tags: bool = False,
                   grouped: Optional[Dict[str, List[str]]] = None,
                   known: Optional[Dict[str, Descriptor]] = None) -> Tuple[List[Descriptor], Optional[List[str]]]:
    """list_referrers, also returning the tag list it read (None where the API answered), so
    that a record written next can refresh the index without listing the repository again."""
    api = native_api(store) if use_api else None
    if api is not None:
        native = api.referrers(repo, subject_digest)
        if native is not None:
            return sorted(native, key=lambda d: d.digest), tags
    found: Dict[str, Descriptor] = {}
    if tags is None:
        try:
            tags = store.list_tags(repo)
        except NotFoundError:
            tags = []   # Registry 2.8 knows no tag list until the first tag: then no record either
    index_tag = fallback_tag(subject_digest)
    if grouped is None:
        grouped = records_by_subject(tags)
    own = grouped.get(subject_digest[7:39], [])
    # One index GET answers for all of a subject's records, so it is read unless the per-record
    # tags already say everything: in a scan (prefer_record_tags), once every record is known.
    settled = prefer_record_tags and own and (known is None or all(d in known for d in own))
    if index_tag in tags and not settled:
        try:
            index = store.get_manifest(repo.with_tag(index_tag)).data
            for entry in index.get("manifests") or []:
                desc = Descriptor.from_json(entry)
                found[desc.digest] = desc
        except (NotFoundError, RemoteError):
            pass  # being rewritten by another writer: the per-record tags below still hold
    missing = [d for d in own if d not in found]

    def fetch(digest: str) -> Optional[Descriptor]:
        if known is not None and digest in known:
            return known[digest]
        manifest = store.get_manifest(repo.with_digest(digest))
        if (manifest.data.get("subject") or {}).get("digest") != subject_digest:
            return None  # a 128-bit prefix collision: another subject's record
        desc = manifest.descriptor()
        if known is not None:
            known[digest] = desc
        return desc

    if len(missing) > 1 and workers > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(missing))) as pool:
            fetched = list(pool.map(fetch, missing))
    else:   # scans already run one thread per image: no pool of pools
        fetched = [fetch(d) for d in missing]
    for desc in fetched:
        if desc is not None:
            found[desc.digest] = desc
    if known is not None:
        known.update((d.digest, d) for d in found.values() if d.digest in own)
    return sorted(found.values(), key=lambda d: d.digest), tags
