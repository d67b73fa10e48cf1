"""The release board: one HTML page, services as rows and their recent versions as columns; each
cell says what happened to that image (suites, rejection, channels, deployments) and links to the
Jenkins builds that did it."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional, Sequence

from .. import render as rendering
from ..core import record as rec
from ..core import version
from ..core.policy import Policy
from ..core.services import DEPLOYED_TAG_PREFIX, Service, ServicesFile, check_target, is_deployed_tag
from ..core.state import summary
from ..errors import InputError, NotFoundError
from ..stores.discovery import Discovery
from .deploy import PolicyFor, StoreFor, each_service, open_stores, refusals
from .images import Image, Scan
from .inspect import channel_tags
from .notes import Notes
from .workers import Workers

DEFAULT_VERSIONS = 15
MAX_VERSIONS = 100


def link(by: Optional[str]) -> Optional[str]:
    """Records' `by` is a Jenkins build URL or a user name; only http(s) URLs become links."""
    return by if by and by.startswith(("https://", "http://")) and len(by) < 2000 else None


@dataclass
class Chip:
    label: str
    state: str                  # passed failed warned | current past failed | channel
    title: str
    url: Optional[str] = None

    def to_json(self) -> dict:
        return {"label": self.label, "state": self.state, "title": self.title, "url": self.url}


@dataclass
class Cell:
    tag: str
    digest: str
    version: str
    build: str
    built: str                  # YYYY-MM-DD, '' when unknown
    state: str                  # rejected | failed | passed | untested
    build_url: Optional[str]
    suites: List[Chip] = field(default_factory=list)
    channels: List[Chip] = field(default_factory=list)
    deployments: List[Chip] = field(default_factory=list)
    rejected: Optional[Chip] = None
    next: bool = False          # what the nightly deploy would take for this service
    running: bool = False       # what the target runs now
    running_url: Optional[str] = None   # the job that deployed it there
    untrusted: List[dict] = field(default_factory=list)   # records ignored, with why

    @property
    def built_short(self) -> str:
        """"28 Nov" for the cell (the full date is in its title)."""
        try:
            return datetime.strptime(self.built, "%Y-%m-%d").strftime("%d %b").lstrip("0")
        except ValueError:
            return self.built

    def suite(self, name: str) -> Optional[Chip]:
        for chip in self.suites:
            if chip.label == name:
                return chip
        return None

    def to_json(self) -> dict:
        return {"tag": self.tag, "digest": self.digest, "state": self.state, "build_url": self.build_url,
                "suites": [c.to_json() for c in self.suites], "channels": [c.label for c in self.channels],
                "deployments": [c.to_json() for c in self.deployments],
                "rejected": self.rejected.to_json() if self.rejected else None,
                "next": self.next, "running": self.running, "untrusted": self.untrusted}


@dataclass
class Row:
    name: str
    repo: str
    channel: str
    cells: List[Cell] = field(default_factory=list)
    running: Optional[str] = None      # version tag (or short digest) the target runs
    running_shown: bool = True         # False when it is older than the columns shown
    next: Optional[str] = None         # version tag the nightly would deploy, if among the columns
    error: Optional[str] = None

    @property
    def running_short(self) -> Optional[str]:
        return " ".join(_split_tag(self.running)) if self.running else None

    @property
    def next_short(self) -> Optional[str]:
        return " ".join(_split_tag(self.next)) if self.next else None

    def to_json(self) -> dict:
        return {"name": self.name, "repo": self.repo, "channel": self.channel, "running": self.running,
                "next": self.next, "error": self.error, "cells": [c.to_json() for c in self.cells]}


@dataclass
class Board:
    rows: List[Row]
    versions: int
    target: Optional[str]
    generated: str
    suites: List[str]                     # every suite on the board, in column order within cells
    out: Optional[str] = None

    @property
    def columns(self) -> int:
        """As many version columns as the fullest row needs, at most `versions`."""
        return max([len(r.cells) for r in self.rows] + [1])

    @property
    def short(self) -> Dict[str, str]:
        """A short, unique label per suite for the cells: U for unit, A for acceptance, Se/Sm..."""
        return short_labels(self.suites)

    def to_json(self) -> dict:
        return {"out": self.out, "target": self.target, "versions": self.versions, "generated": self.generated,
                "services": [r.to_json() for r in self.rows]}


def short_labels(names: List[str]) -> Dict[str, str]:
    """The shortest prefix (1 to 4 characters, first one upper-case) that no other name shares."""
    out = {}
    for name in names:
        for n in range(1, 5):
            prefix = name[:n].lower()
            if n == 4 or not any(o != name and o[:n].lower() == prefix for o in names):
                break
        out[name] = name[:n][:1].upper() + name[1:n]
    return out


def _split_tag(tag: str):
    v = version.parse_tag(tag)
    if v is None:
        return tag, ""
    return v.version, f"b{v.build}" if v.build else ""


def _cell(image: Image, channels: List[str], deployed_here: Dict[str, bool], notes: Notes) -> Cell:
    state = image.state
    tag = image.tags[0]
    ver, build = _split_tag(tag)
    built = image.built_at
    prov = state.provenance
    cell = Cell(tag=tag, digest=image.digest, version=ver, build=build,
                built=built.strftime("%Y-%m-%d") if built else _tag_date(tag), state=summary(state).split(":")[0],
                build_url=link(prov.by) if prov else None,
                untrusted=[u.to_json() for u in image.untrusted])
    for suite, r in sorted(state.suites.items()):
        cell.suites.append(Chip(suite, r.result or "passed",
                                f"{suite} {r.result} at {r.created[:16].replace('T', ' ')}"
                                + (f" by {r.by}" if r.by else ""), link(r.by)))
    for name in channels:
        promo = state.promotions.get(name)
        title = f"in channel {name}" + (f" since {promo.created[:16].replace('T', ' ')}" if promo else "")
        marks = notes.promotion_marks(image.repo, promo) if promo else []
        title += "".join(f" ({m})" for m in marks)
        forced = any(m.startswith("forced") for m in marks)
        cell.channels.append(Chip(name, "forced" if forced else "channel", title, link(promo.by) if promo else None))
    for target, r in sorted(state.deployments.items()):
        now_here = deployed_here.get(target, False)
        if r.result == "failed":
            kind = "failed"
            why = notes.reason(image.repo, r)
            title = f"deploying to {target} failed at {r.created[:16].replace('T', ' ')}" + (f": {why}" if why else "")
        else:
            kind = "current" if now_here else "past"
            title = (f"{'runs on' if now_here else 'ran on'} {target}, deployed "
                     f"{r.created[:16].replace('T', ' ')}")
        cell.deployments.append(Chip(target, kind, title + (f" by {r.by}" if r.by else ""), link(r.by)))
    for target, here in sorted(deployed_here.items()):
        if here and target not in state.deployments:   # the tag was moved by hand: no record
            cell.deployments.append(Chip(target, "current", f"runs on {target}"))
    if state.rejected and state.verdict is not None:
        v = state.verdict
        why = notes.reason(image.repo, v)
        cell.rejected = Chip("rejected", "rejected",
                             f"rejected at {v.created[:16].replace('T', ' ')}" + (f" by {v.by}" if v.by else "")
                             + (f": {why}" if why else ""), link(v.by))
    return cell


def _tag_date(tag: str) -> str:
    """The build date a version tag carries (YYYYMMDD), as YYYY-MM-DD; '' when it has none."""
    v = version.parse_tag(tag)
    return f"{v.date[:4]}-{v.date[4:6]}-{v.date[6:]}" if v and v.date else ""


def board_row(*, store, service: Service, channel: str, policy: Policy, target: Optional[str], versions: int,
              now: datetime, workers: Optional[Workers] = None) -> Row:
    with Discovery(store, service.repo) as found:
        return _row(store, service, channel, policy, target, versions, now, found, workers)


def _row(store, service: Service, channel: str, policy: Policy, target: Optional[str], versions: int,
         now: datetime, found: Discovery, workers: Optional[Workers]) -> Row:
    row = Row(service.name, service.repo.name, channel)
    try:
        scan = Scan(store, service.repo, found=found, policy=policy, now=now, workers=workers)
    except NotFoundError as exc:
        row.error = exc.message
        return row
    if not scan.version_tags:
        row.error = f"{service.repo.name} has no version tags"
        return row
    images: List[Image] = []
    for image in scan.images(batch=versions):
        images.append(image)
        if len(images) >= versions:
            break
    pointers: Dict[str, List[str]] = {}
    for tag in scan.other_tags:
        digest = scan.channel_digest(tag)
        if digest:
            pointers.setdefault(digest, []).append(tag)
    running = None
    for digest, tags in pointers.items():
        if target and DEPLOYED_TAG_PREFIX + target in tags:
            running = digest
    notes = Notes(store)
    for image in images:
        tags = pointers.get(image.digest, [])
        channels = sorted(channel_tags(tags, image))
        here = {t[len(DEPLOYED_TAG_PREFIX):]: True for t in tags if is_deployed_tag(t)}
        cell = _cell(image, channels, here, notes)
        cell.running = image.digest == running
        if cell.running:
            cell.running_url = next((c.url for c in cell.deployments if c.label == target and c.state == "current"),
                                    None)
        row.cells.append(cell)
    for image, cell in zip(images, row.cells):
        if not refusals(image, policy, channel, now, target, running):
            cell.next = True
            row.next = cell.tag
            break
    if running:
        shown = [c for c in row.cells if c.running]
        row.running = shown[0].tag if shown else running[7:19]
        row.running_shown = bool(shown)
    return row


def collect(*, store_for: StoreFor, services: ServicesFile, names: Sequence[str] = (), channel: Optional[str] = None,
            target: Optional[str] = None, policy_for: PolicyFor, now: datetime,
            versions: int = DEFAULT_VERSIONS) -> Board:
    if not 1 <= versions <= MAX_VERSIONS:
        raise InputError(f"--versions {versions} is out of range", f"show 1 to {MAX_VERSIONS} versions per service")
    target = check_target(target) if target else services.target
    chosen = services.select(list(names))
    stores = open_stores(chosen, store_for)
    policies = {s.name: policy_for(s.policy, s.repo) for s in chosen}

    def one(service: Service) -> Row:
        return board_row(store=stores[service.name], service=service, channel=services.channel_for(service, channel),
                         policy=policies[service.name], target=target, versions=versions, now=now, workers=workers)

    with Workers() as workers:
        rows = each_service(chosen, one, workers)
    suites = sorted({c.label for r in rows for cell in r.cells for c in cell.suites})
    return Board(rows, versions, target, rec.format_time(now)[:16].replace("T", " ") + " UTC", suites)


def publish(board: Board, out: str, title: str = "Release board") -> Board:
    rendering.write_page("board.html.j2", {"board": board, "title": title}, out)
    board.out = out
    return board
