"""The Jenkins side of shipmark: the build that produced an image shows the image's state.

- `write_build_files`: at record time, `provenance.json` and the rendered description for the
  current build (the Groovy step archives the one and sets the other).
- `sync`: after `mark`, `promote`, `reject`, `restore` or `rollback`, find the producing build
  from the image's provenance record (the statement's runDetails.metadata.invocationId, else the
  record's `dev.shipmark.by`), replace the image's paragraph in that build's description, and on
  promotion keep the build forever (`toggleLogKeep` toggles, so it is read first). Jenkins
  failures are reported per image, never raised: the registry operation has already happened.
- `promotion_source`, `promotion_status`, `approve`, `force`: Promoted Builds.
- `builds`: which builds of a job produced which images, with their state.
"""

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..core import version
from ..core.record import REJECTION
from ..core.ref import Ref
from ..core.state import summary
from ..errors import InputError, NotFoundError, ShipmarkError
from ..jenkins import BuildRef, Client, parse_build_url
from ..stores.base import Store
from .images import Image, Scan, load, statement

FORMATS = ("text", "html")
TEMPLATES = {"text": "description.txt.j2", "html": "description.html.j2"}
DESCRIPTION_FILES = {"text": "description.txt", "html": "description.html"}
PROVENANCE_FILE = "provenance.json"
PROVENANCE_ARTIFACT = "shipmark/provenance.json"
IMAGE_PARAMETER = "IMAGE"
_MARKERS = ("shipmark: ", '<div class="shipmark"')
_BUILD_TREE = "url,description,keepLog,building,result"


def _one_line(text: Optional[str], limit: int = 300) -> Optional[str]:
    """Free text (reasons, actors) inside a description paragraph: no line breaks, bounded."""
    if not text:
        return None
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _version_tag(tags: Iterable[str]) -> Optional[str]:
    tags = list(tags)
    for tag in tags:
        if version.parse_tag(tag) is not None and not tag.startswith("sha256-"):
            return tag
    return tags[0] if tags else None


def _predicate_build(stmt: Mapping) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(build URL, commit, branch) from a provenance statement (SLSA v1 shape)."""
    pred = stmt.get("predicate") or {}
    run = (pred.get("runDetails") or {}).get("metadata") or {}
    external = (pred.get("buildDefinition") or {}).get("externalParameters") or {}
    return run.get("invocationId"), external.get("revision"), external.get("ref")


# -- descriptions -----------------------------------------------------------------------------

def check_format(fmt: Optional[str]) -> str:
    fmt = fmt or "text"
    if fmt not in FORMATS:
        raise InputError(f"unknown description format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    return fmt


def describe(image: Image, *, fmt: str, now: datetime, note: str, by: Optional[str],
             commit: Optional[str] = None, branch: Optional[str] = None, reason: Optional[str] = None,
             kept: bool = False, tag: Optional[str] = None) -> str:
    """The image's paragraph of a build description, from the packaged template."""
    from ..render import render_page
    state = image.state
    context = {
        "repo": image.repo.name,
        "tag": tag or _version_tag(image.tags),
        "pinned": image.pinned,
        "digest": image.digest,
        "commit": commit,
        "branch": branch,
        "suites": [{"name": s, "result": r.result} for s, r in sorted(state.suites.items())],
        "channels": sorted(state.promotions),
        "kept": kept,
        "rejected": state.rejected,
        "reason": _one_line(reason),
        "updated": now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "note": _one_line(note),
        "by": _one_line(by),
    }
    return render_page(TEMPLATES[check_format(fmt)], context).strip("\n")


def _paragraphs(text: str) -> List[str]:
    text = (text or "").replace("\r\n", "\n").strip("\n")
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()] if text else []


def _is_block_of(paragraph: str, digest: str) -> bool:
    return paragraph.lstrip().startswith(_MARKERS) and digest in paragraph


def merge_description(existing: Optional[str], block: str, digest: str) -> str:
    """Replace the image's paragraph (found by shipmark's first line and the digest) in place,
    or append it; every other paragraph stays as it was, byte for byte."""
    out, placed = [], False
    for paragraph in _paragraphs(existing or ""):
        if _is_block_of(paragraph, digest):
            if not placed:
                out.append(block)
                placed = True
            continue
        out.append(paragraph)
    if not placed:
        out.append(block)
    return "\n\n".join(out) + "\n"


def _tag_in(existing: Optional[str], repo: str, digest: str) -> Optional[str]:
    """The version tag the build's description already names for this image (a sync that only
    knows the digest keeps it)."""
    for paragraph in _paragraphs(existing or ""):
        if _is_block_of(paragraph, digest):
            m = re.search(re.escape(repo) + r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", paragraph)
            if m:
                return m.group(1)
    return None


# -- record time: files for the current build -------------------------------------------------

def write_build_files(out_dir: str, *, image: Image, record: dict, stmt: dict, fmt: str, now: datetime,
                      by: Optional[str]) -> List[str]:
    """OUT/provenance.json (this image's statement and record, plus every image recorded into
    OUT by this build) and OUT/description.txt|.html (one paragraph per image)."""
    from ..render import write_atomic
    fmt = check_format(fmt)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out_dir}: {exc.strerror}", "pass --out-dir DIR, a writable directory") from None
    tag = _version_tag(image.tags)
    entry = {"image": image.pinned, "repo": image.repo.name, "tag": tag, "digest": image.digest,
             "record": record, "statement": stmt}
    prov_path = os.path.join(out_dir, PROVENANCE_FILE)
    previous = _read_json(prov_path)
    images = [i for i in (previous.get("images") or []) if isinstance(i, dict) and i.get("digest") != image.digest]
    images.append({k: entry[k] for k in ("image", "repo", "tag", "digest", "record")})
    doc = dict(entry, images=images)
    write_atomic(prov_path, (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))

    _, commit, branch = _predicate_build(stmt)
    block = describe(image, fmt=fmt, now=now, note="provenance recorded", by=by, commit=commit, branch=branch,
                     tag=tag)
    desc_path = os.path.join(out_dir, DESCRIPTION_FILES[fmt])
    try:
        with open(desc_path, encoding="utf-8") as fh:
            existing = fh.read()
    except OSError:
        existing = ""
    write_atomic(desc_path, merge_description(existing, block, image.digest).encode("utf-8"))
    return [prov_path, desc_path]


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


# -- after a registry operation: the producing build ------------------------------------------

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
    url, commit, branch = _predicate_build(stmt)
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
        out = {"image": self.image, "status": self.status, "build": self.build, "job": self.job,
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
        image = update.image if update.image is not None else load(store, update.ref)
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
                         tag=_version_tag(image.tags) or _tag_in(existing, image.repo.name, image.digest))
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


# -- Promoted Builds ---------------------------------------------------------------------------

@dataclass
class PromotionSource:
    image: str
    build: BuildRef
    source: str   # where IMAGE came from


def promotion_source(env: Mapping[str, str], client: Optional[Client]) -> PromotionSource:
    """Inside a Promoted Builds process: the promoted build from PROMOTED_JOB_FULL_NAME and
    PROMOTED_NUMBER; the image from the IMAGE variable, else the build's IMAGE parameter, else
    its archived shipmark/provenance.json."""
    job, number = env.get("PROMOTED_JOB_FULL_NAME"), env.get("PROMOTED_NUMBER")
    if not job or not number or not str(number).isdigit():
        raise InputError("--from-promotion needs PROMOTED_JOB_FULL_NAME and PROMOTED_NUMBER",
                         "run it as a build step of a Promoted Builds promotion process, or give IMAGE")
    build = BuildRef(job, int(number))
    if env.get(IMAGE_PARAMETER):
        return PromotionSource(env[IMAGE_PARAMETER], build, "the IMAGE variable")
    if client is None:
        raise InputError(f"IMAGE is not set and JENKINS_URL is not set, so build {build} cannot be asked",
                         "give the carrier job an IMAGE parameter, or set JENKINS_URL, JENKINS_USER and JENKINS_API_TOKEN")
    value = client.parameters(build).get(IMAGE_PARAMETER)
    if isinstance(value, str) and value:
        return PromotionSource(value, build, f"the IMAGE parameter of build {build}")
    try:
        raw = client.artifact(build, PROVENANCE_ARTIFACT)
    except NotFoundError:
        raise NotFoundError(f"build {build} has no IMAGE parameter and no archived {PROVENANCE_ARTIFACT}",
                            "promote through the carrier job (IMAGE parameter), or let recordImage archive "
                            "shipmark/provenance.json in the producing build") from None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InputError(f"{PROVENANCE_ARTIFACT} of build {build} is not JSON",
                         "it is written by `shipmark record --out-dir shipmark`; do not archive another file there") from None
    images = [i.get("image") for i in doc.get("images") or [] if isinstance(i, dict) and i.get("image")]
    if not images and doc.get("image"):
        images = [doc["image"]]
    if len(images) != 1:
        raise InputError(f"{PROVENANCE_ARTIFACT} of build {build} names {len(images)} images",
                         "pass IMAGE (a parameter of the promotion or carrier job) to say which one")
    return PromotionSource(images[0], build, f"{PROVENANCE_ARTIFACT} of build {build}")


def _status_of(builds: List[dict]) -> str:
    if any(b.get("result") == "SUCCESS" for b in builds):
        return "promoted"
    if any(b.get("building") or b.get("result") is None for b in builds):
        return "running"
    return "failed" if builds else "pending"


@dataclass
class PromotionStatus:
    build: BuildRef
    url: str
    processes: List[dict]

    def to_json(self) -> dict:
        return {"job": self.build.job, "number": self.build.number, "url": self.url, "promotions": self.processes}


def promotion_status(client: Client, build: BuildRef) -> PromotionStatus:
    """Every promotion process of the job and where this build stands in it."""
    names = client.promotion_processes(build.job)
    found = {p["name"]: p["builds"] for p in client.promotions(build)}
    rows = []
    for name in names + [n for n in found if n not in names]:
        builds = found.get(name, [])
        rows.append({"name": name, "status": _status_of(builds), "builds": builds})
    return PromotionStatus(build, client.build_url(build), rows)


@dataclass
class PromotionAction:
    action: str                  # approve | force
    process: str
    before: str
    status: PromotionStatus

    @property
    def after(self) -> str:
        return next((p["status"] for p in self.status.processes if p["name"] == self.process), "pending")

    def to_json(self) -> dict:
        return dict(self.status.to_json(), action=self.action, process=self.process, before=self.before,
                    after=self.after)


def _act(client: Client, build: BuildRef, process: str, action: str, call: Callable[[], None]) -> PromotionAction:
    before = promotion_status(client, build)
    was = next((p["status"] for p in before.processes if p["name"] == process), None)
    if was is None:
        raise NotFoundError(f"job {build.job} has no promotion process {process!r}",
                            f"its processes: {', '.join(p['name'] for p in before.processes) or 'none'}")
    call()
    return PromotionAction(action, process, was, promotion_status(client, build))


def approve(client: Client, build: BuildRef, process: str, parameters: Iterable[Tuple[str, str]] = ()) -> PromotionAction:
    params = list(parameters)
    return _act(client, build, process, "approve", lambda: client.approve(build, process, params))


def force(client: Client, build: BuildRef, process: str) -> PromotionAction:
    return _act(client, build, process, "force", lambda: client.force(build, process))


# -- which builds produced which images --------------------------------------------------------

@dataclass
class BuildImages:
    build: dict
    images: List[Image] = field(default_factory=list)

    def to_json(self) -> dict:
        b = self.build
        return {"number": b.get("number"), "url": b.get("url"), "result": b.get("result"),
                "building": bool(b.get("building")), "timestamp": b.get("timestamp"),
                "images": [{"image": i.pinned, "tag": _version_tag(i.tags), "digest": i.digest,
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
    by_number: Dict[int, BuildImages] = {b.build.get("number"): b for b in rows}
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
                url = _predicate_build(statement(store, image.repo, prov.digest))[0]
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
