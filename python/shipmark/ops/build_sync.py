"""The producing build of an image, on this Jenkins: after `mark`, `promote`, `reject`,
`restore` or `rollback`, find it from the image's provenance record (the statement's
runDetails.metadata.invocationId, else the record's `dev.shipmark.by`), replace the image's
paragraph in its description, and keep it forever when asked (`toggleLogKeep` toggles, so it is
read first). Jenkins failures are reported per image, never raised: the registry operation has
already happened. `builds` answers the other way round: which builds produced which images.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..core.record import REJECTION, build_of
from ..core.ref import Ref
from ..core.state import summary
from ..errors import InputError, ShipmarkError
from ..jenkins import BuildRef, Client, parse_build_url
from ..stores.base import Store
from .description import describe, merge_description, tag_in, version_tag
from .images import Image, Scan, load, statement

_BUILD_TREE = "url,description,keepLog,building,result"


@dataclass
class Producer:
    """Where an image came from, as its provenance record says."""

    build: Optional[BuildRef]
    url: Optional[str]
    commit: Optional[str] = None
    branch: Optional[str] = None


def producer(store: Store, image: Image) -> Optional[Producer]:
    """None when the image has no provenance record."""
    prov = image.state.provenance
    if prov is None:
        return None
    stmt = statement(store, image.repo, prov.digest)
    url, commit, branch = build_of(stmt)
    build = parse_build_url(url)
    if build is None and parse_build_url(prov.by):
        url, build = prov.by, parse_build_url(prov.by)
    return Producer(build, url, commit, branch or prov.branch)


@dataclass
class Update:
    """An image whose producing build should show its new state: `note` says what happened,
    `keep` keeps the build forever. Give `ref` instead of `image` to load it inside the sync
    (so that a failing read is reported like any Jenkins failure, after the registry change)."""

    image: Optional[Image]
    note: str
    keep: bool = False
    ref: Optional[Ref] = None

    @property
    def label(self) -> str:
        return self.image.pinned if self.image is not None else str(self.ref)


@dataclass
class BuildSync:
    image: str
    status: str                       # updated | unchanged | skipped | failed
    build: Optional[str] = None       # the build's URL on this Jenkins
    job: Optional[str] = None
    number: Optional[int] = None
    kept: Optional[bool] = None
    kept_now: bool = False
    reason: Optional[str] = None      # why skipped
    error: Optional[ShipmarkError] = None

    def to_json(self) -> dict:
        out: Dict[str, Any] = {"image": self.image, "status": self.status, "build": self.build, "job": self.job,
               "number": self.number, "kept": self.kept, "kept_now": self.kept_now}
        if self.reason:
            out["reason"] = self.reason
        if self.error is not None:
            out["error"] = self.error.to_json()
        return out


@dataclass
class SyncReport:
    results: List[BuildSync] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    def to_json(self) -> dict:
        return {"ok": self.ok, "builds": [r.to_json() for r in self.results]}


def _rejection_reason(store: Store, image: Image) -> Optional[str]:
    verdict = image.state.verdict
    if verdict is None or verdict.kind != REJECTION:
        return None
    try:
        return (statement(store, image.repo, verdict.digest).get("predicate") or {}).get("reason")
    except ShipmarkError:
        return None


def sync_build(*, client: Client, store: Store, update: Update, now: datetime, by: Optional[str],
               fmt: str = "text", reason: Optional[str] = None) -> BuildSync:
    result = BuildSync(update.label, "failed")
    try:
        image = update.image if update.image is not None else load(store, update.ref)  # type: ignore[arg-type]
        origin = producer(store, image)
        if origin is None:
            result.status, result.reason = "skipped", "the image has no provenance record"
            return result
        if origin.build is None:
            result.status = "skipped"
            result.reason = f"its provenance names no Jenkins build ({origin.url or 'no build URL'})"
            return result
        if not client.owns(origin.url):
            result.status, result.reason = "skipped", f"its build {origin.url} is not on {client.root}"
            return result
        build = origin.build
        result.job, result.number, result.build = build.job, build.number, client.build_url(build)
        info = client.build(build, tree=_BUILD_TREE)
        kept = bool(info.get("keepLog"))
        if update.keep and not kept:
            result.kept_now = client.keep(build)
            kept = True
        result.kept = kept
        if image.state.rejected and reason is None:
            reason = _rejection_reason(store, image)
        existing = info.get("description") or ""
        block = describe(image, fmt=fmt, now=now, note=update.note, by=by, commit=origin.commit,
                         branch=origin.branch, reason=reason, kept=kept,
                         tag=version_tag(image.tags) or tag_in(existing, image.repo.name, image.digest))
        text = merge_description(existing, block, image.digest)
        if text.strip() == existing.strip():
            result.status = "unchanged"
        else:
            client.set_description(build, text)
            result.status = "updated"
        return result
    except ShipmarkError as exc:
        result.status, result.error = "failed", exc
        return result


def sync(*, client: Client, store: Store, updates: Iterable[Update], now: datetime, by: Optional[str],
         fmt: str = "text", reason: Optional[str] = None) -> SyncReport:
    """Each image's producing build, one after another; failures are collected, not raised."""
    report = SyncReport()
    for update in updates:
        report.results.append(sync_build(client=client, store=store, update=update, now=now, by=by,
                                         fmt=fmt, reason=reason))
    return report


def rollback_updates(result, reason: str) -> List[Update]:
    """After `channel.rollback`: the image rolled back to (kept, as a promotion) and, when it was
    rejected, the image rolled away from."""
    updates = [Update(result.to_image, f"{result.channel} rolled back to this image", keep=True)]
    if result.rejection is not None and result.from_image:
        digest = result.from_image.rpartition("@")[2]
        updates.append(Update(None, f"rolled back out of {result.channel}: {reason}",
                              ref=result.repo.with_digest(digest)))
    return updates


@dataclass
class BuildImages:
    build: dict
    images: List[Image] = field(default_factory=list)

    def to_json(self) -> dict:
        b = self.build
        return {"number": b.get("number"), "url": b.get("url"), "result": b.get("result"),
                "building": bool(b.get("building")), "timestamp": b.get("timestamp"),
                "images": [{"image": i.pinned, "tag": version_tag(i.tags), "digest": i.digest,
                            "state": summary(i.state), "channels": sorted(i.state.promotions),
                            "rejected": i.state.rejected,
                            "suites": {s: r.result for s, r in sorted(i.state.suites.items())}}
                           for i in self.images]}


@dataclass
class BuildsReport:
    job: str
    repo: Ref
    builds: List[BuildImages]
    scanned: int

    def to_json(self) -> dict:
        return {"job": self.job, "repo": self.repo.name, "scanned": self.scanned,
                "builds": [b.to_json() for b in self.builds]}


def builds(*, client: Client, store: Store, repo: Ref, job: str, limit: int = 20,
           progress: Optional[Callable[[int, int], None]] = None) -> BuildsReport:
    """The newest `limit` builds of `job` and the images of `repo` each produced. The build of an
    image is its provenance record's `dev.shipmark.by` when that is a build URL (no payload
    fetch), else the statement's invocationId. The scan stops once every build is matched."""
    if limit < 1:
        raise InputError("--limit must be at least 1")
    rows = [BuildImages(b) for b in client.builds(job, limit=limit)]
    by_number: Dict[int, BuildImages] = {b.build["number"]: b for b in rows if isinstance(b.build.get("number"), int)}
    unmatched = set(by_number)
    scanned = 0
    for image in Scan(store, repo, progress).images():
        scanned += 1
        prov = image.state.provenance
        if prov is None:
            continue
        url = prov.by if parse_build_url(prov.by) else None
        if url is None:
            try:
                url = build_of(statement(store, image.repo, prov.digest))[0]
            except ShipmarkError:
                url = None
        ref = parse_build_url(url) if client.owns(url) else None
        if ref is None or ref.job != job or ref.number not in by_number:
            continue
        by_number[ref.number].images.append(image)
        unmatched.discard(ref.number)
        if not unmatched:
            break
    return BuildsReport(job, repo, rows, scanned)
