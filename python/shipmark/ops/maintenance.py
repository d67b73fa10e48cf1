"""Keeping the registry tidy: repair what it lists for images, prune records of images that are gone.

`repair` makes the registry's listings agree with shipmark's record set (see stores/discovery.py):
records another tool attached join the set, and without the referrers API the `sha256-<hex>`
index lists every referrer that exists. Every write already does this for its image; `repair`
is for images nobody writes to, and for records written before their own tags existed.

`prune` removes the records, per-record tags and indexes whose image no longer exists (deleted,
then garbage-collected): nothing else ever cleans them up.
"""

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

from ..core import mediatype as mt
from ..core.ref import Ref
from ..errors import NotFoundError
from ..stores.base import Store
from ..stores.discovery import Discovery, Repair, index_tag, is_record_tag, record_tag

_INDEX_TAG_RE = re.compile(r"sha256-[a-f0-9]{64}")


@dataclass
class Repaired:
    repo: Ref
    images: List[Repair]

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "images": [r.to_json() for r in self.images]}


def repair(*, store: Store, ref: Ref) -> Repaired:
    """One image (by tag or digest), or every image of a repository: each tagged image and each
    subject that has an index."""
    found = Discovery(store, ref.repo)
    if ref.tag or ref.digest:
        subjects = [store.head_manifest(ref).digest]
    else:
        subjects = sorted(_tagged_images(found) | _indexed_subjects(found))
    return Repaired(ref.repo, [found.repair(digest) for digest in subjects])


@dataclass
class Orphan:
    subject: str
    records: List[str] = field(default_factory=list)   # record manifests to delete
    index: Optional[str] = None                        # the index manifest to delete

    def to_json(self) -> dict:
        return {"subject": self.subject, "records": self.records, "index": self.index}


@dataclass
class Pruned:
    repo: Ref
    dry_run: bool
    orphans: List[Orphan]

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "dry_run": self.dry_run,
                "orphans": [o.to_json() for o in self.orphans],
                "records": sum(len(o.records) for o in self.orphans),
                "indexes": sum(1 for o in self.orphans if o.index)}


def prune(*, store: Store, repo: Ref, dry_run: bool = False) -> Pruned:
    """Delete the records and indexes of subjects that no longer exist in the repository."""
    found = Discovery(store, repo)
    by_subject: Dict[str, Orphan] = {}
    for tag in found.tags():
        if not is_record_tag(tag):
            continue
        record = "sha256:" + tag.split(".", 1)[1]
        subject = found.subject_of(record)
        if subject and record_tag(subject, record) == tag:
            by_subject.setdefault(subject, Orphan(subject)).records.append(record)
    for subject in _indexed_subjects(found):
        by_subject.setdefault(subject, Orphan(subject))
    orphans = [o for s, o in sorted(by_subject.items()) if not _exists(store, repo, s)]
    for orphan in orphans:
        listed = found.listed(orphan.subject)
        if listed.source.startswith("index"):
            head = found.head(index_tag(orphan.subject))
            orphan.index = head.digest if head else None
            orphan.records += [d.digest for d in listed.referrers
                               if d.artifact_type == mt.RECORD_ARTIFACT and d.digest not in orphan.records]
        if dry_run:
            continue
        for digest in orphan.records + ([orphan.index] if orphan.index else []):
            _delete(store, repo.repo.with_digest(digest))
    return Pruned(repo.repo, dry_run, orphans)


def _delete(store: Store, ref: Ref) -> None:
    try:
        store.delete_manifest(ref)
    except NotFoundError:
        pass   # gone already: a rerun converges


def _exists(store: Store, repo: Ref, digest: str) -> bool:
    try:
        store.head_manifest(repo.repo.with_digest(digest))
        return True
    except NotFoundError:
        return False


def _tagged_images(found: Discovery) -> Set[str]:
    out = set()
    for tag in found.visible_tags():
        desc = found.head(tag)
        if desc is not None:
            out.add(desc.digest)
    return out


def _indexed_subjects(found: Discovery) -> Set[str]:
    return {"sha256:" + t[len("sha256-"):] for t in found.tags() if _INDEX_TAG_RE.fullmatch(t)}
