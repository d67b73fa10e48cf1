"""Channels: promote an image into one, pick the newest eligible image, roll back, history."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, List, Optional

from ..core import record as rec
from ..core.policy import Decision, Policy, evaluate
from ..core.record import Record, check_name
from ..core.ref import Ref
from ..errors import InputError, NotFoundError, NothingEligibleError, PolicyError
from ..stores.base import Store
from ..stores.discovery import Discovery
from .copy import copy_image
from .images import Image, Scan, attach, load


@dataclass
class Promotion:
    image: Image
    channel: str
    promoted: bool
    dry_run: bool
    forced: bool
    decision: Decision
    record: Optional[Record] = None
    copied_to: Optional[str] = None
    already: bool = False

    def to_json(self) -> dict:
        return {"image": self.image.pinned, "digest": self.image.digest, "channel": self.channel,
                "promoted": self.promoted, "dry_run": self.dry_run, "forced": self.forced,
                "already": self.already, "reasons": self.decision.reasons,
                "record": self.record.to_json() if self.record else None, "copied_to": self.copied_to}


def _channel_digest(store: Store, repo: Ref, channel: str) -> Optional[str]:
    try:
        return store.head_manifest(repo.with_tag(channel)).digest
    except NotFoundError:
        return None


def _interrupted_promotion(image: Image, channel: str, current: Optional[str]) -> Optional[Record]:
    """A promotion record written by a run that failed before moving the tag: the tag still
    points where that record says it pointed before. A rerun reuses it instead of writing twice."""
    last = image.state.promotions.get(channel)
    if last is None or current == image.digest:
        return None
    return last if last.previous == (current or "none") else None


def _move_channel(store: Store, image: Image, channel: str, previous: Optional[str], now: datetime,
                  by: Optional[str], predicate: dict) -> Record:
    """Record first, then the tag: a rerun after any failure converges on the same end state."""
    record = _interrupted_promotion(image, channel, previous)
    if record is None:
        new = rec.build(rec.PROMOTION, image.descriptor, image.repo.name, predicate, now, by,
                        channel=channel, previous=previous or "none")
        record = attach(store, image, new)
    manifest = store.get_manifest(image.repo.with_digest(image.digest))
    store.put_manifest(image.repo.with_tag(channel), manifest)   # byte-exact: same digest
    return record


def promote(*, store: Store, ref: Ref, channel: str, policy: Policy, now: datetime, by: Optional[str],
            dry_run: bool = False, force: bool = False, reason: Optional[str] = None,
            copy_to: Optional[Ref] = None, copy_store: Optional[Store] = None,
            records_only: bool = False) -> Promotion:
    check_name("channel", channel)
    rec.check_text("reason", reason)
    if force and not reason:
        raise InputError("--force needs --reason", "say why the policy is overridden: it is recorded")
    image = load(store, ref)
    decision = evaluate(policy, channel, image.state, now, image.built_at)
    if not decision.ok and not force:
        raise PolicyError(f"{ref} may not enter channel {channel!r} ({policy.source})",
                          "see the reasons; `shipmark status` shows the image's records", decision.reasons)
    result = Promotion(image, channel, promoted=False, dry_run=dry_run, forced=force and not decision.ok,
                       decision=decision)
    target_store = copy_store or store
    if copy_to is not None:
        result.copied_to = f"{copy_to.name}@{image.digest}"
    if dry_run:
        return result
    if copy_to is not None:
        image = copy_image(store, image, target_store, copy_to.repo, records_only=records_only)
        result.image = image
    previous = _channel_digest(target_store, image.repo, channel)
    if previous == image.digest and channel in image.state.promotions:
        result.already = True
        result.record = image.state.promotions[channel]
        return result
    predicate = {"channel": channel, "previous": previous, "policy": policy.source,
                 "forced": result.forced, "overridden": decision.reasons if result.forced else [],
                 "reason": reason, "by": by}
    result.record = _move_channel(target_store, image, channel, previous, now, by, predicate)
    result.promoted = True
    return result


@dataclass
class Pick:
    repo: Ref
    channel: str
    image: Image
    skipped: List[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "channel": self.channel, "image": self.image.pinned,
                "tag": self.image.tags[0] if self.image.tags else None, "digest": self.image.digest,
                "skipped": self.skipped}


def pick(*, store: Store, repo: Ref, channel: str, policy: Policy, now: datetime,
         progress: Optional[Callable[[int, int], None]] = None, found: Optional[Discovery] = None) -> Pick:
    """Newest eligible image: walks version tags newest-first and stops at the first one."""
    policy.channel(channel)
    scan = Scan(store, repo, progress, found)
    skipped: List[dict] = []
    # The eligible image is usually among the newest few: a small first round.
    for image in scan.images(batch=4):
        decision = evaluate(policy, channel, image.state, now, image.built_at)
        if decision.ok:
            if not scan.verified(image):
                # A version tag was pushed again: forget what was cached and walk afresh.
                return pick(store=store, repo=repo, channel=channel, policy=policy, now=now, progress=progress,
                            found=scan.found)
            return Pick(repo, channel, image, skipped)
        skipped.append({"tag": image.tags[0], "digest": image.digest, "reasons": decision.reasons})
    if not scan.version_tags:
        raise NothingEligibleError(f"{repo.name} has no version tags",
                                   "push images tagged like 1.4.2-b12.20261128.abc1234 (see `shipmark tag`)")
    raise NothingEligibleError(f"no image in {repo.name} may enter channel {channel!r}",
                               "`shipmark list` shows each image's state",
                               [f"{s['tag']}: {'; '.join(s['reasons'])}" for s in skipped[:20]])


@dataclass
class HistoryEntry:
    image: Image
    record: Record

    def to_json(self) -> dict:
        return {"image": self.image.pinned, "tag": self.image.tags[0] if self.image.tags else None,
                "digest": self.image.digest, "promoted_at": self.record.created, "by": self.record.by,
                "rejected": self.image.state.rejected}


@dataclass
class History:
    repo: Ref
    channel: str
    current: Optional[str]
    entries: List[HistoryEntry]

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "channel": self.channel, "current": self.current,
                "entries": [e.to_json() for e in self.entries]}


def history(*, store: Store, repo: Ref, channel: str,
            progress: Optional[Callable[[int, int], None]] = None) -> History:
    """Every promotion into `channel`, newest first (an image promoted twice appears twice)."""
    check_name("channel", channel)
    scan = Scan(store, repo, progress)
    entries = [HistoryEntry(image, r) for image in scan.images() for r in image.records
               if r.kind == rec.PROMOTION and r.channel == channel]
    entries.sort(key=lambda e: e.record.order, reverse=True)
    return History(repo, channel, scan.channel_digest(channel), entries)


@dataclass
class Rollback:
    repo: Ref
    channel: str
    from_image: Optional[str]
    to_image: Image
    record: Record
    rejection: Optional[Record]

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "channel": self.channel, "from": self.from_image,
                "to": self.to_image.pinned, "record": self.record.to_json(),
                "rejected": self.rejection.to_json() if self.rejection else None}


def rollback(*, store: Store, repo: Ref, channel: str, policy: Policy, now: datetime, by: Optional[str],
             reason: str, reject_current: bool = True) -> Rollback:
    """Move the channel back to the newest earlier promoted image that is still eligible. The image
    rolled away from is rejected (unless told not to), so `pick` never brings it back."""
    if not reason:
        raise InputError("rollback needs --reason", "say why: it is recorded on the image")
    past = history(store=store, repo=repo, channel=channel)
    current = past.current
    if current is None:
        raise NothingEligibleError(f"channel {channel!r} of {repo.name} points at no image",
                                   f"promote an image first: shipmark promote IMAGE --to {channel}")
    rejection = None
    seen = {current}
    refused: List[str] = []
    for entry in past.entries:
        candidate = entry.image
        if candidate.digest in seen:
            continue
        seen.add(candidate.digest)
        decision = evaluate(policy, channel, candidate.state, now, candidate.built_at)
        if not decision.ok:
            refused.append(f"{candidate.tags[0]}: {'; '.join(decision.reasons)}")
            continue
        gone = load(store, repo.with_digest(current))
        if reject_current and not gone.state.rejected:
            new = rec.build(rec.REJECTION, gone.descriptor, repo.name,
                            {"reason": f"rolled back: {reason}", "by": by}, now, by)
            rejection = attach(store, gone, new)
        predicate = {"channel": channel, "previous": current, "rollback": True, "reason": reason, "by": by}
        record = _move_channel(store, candidate, channel, current, now, by, predicate)
        return Rollback(repo, channel, f"{repo.name}@{current}", candidate, record, rejection)
    raise NothingEligibleError(f"no earlier image of channel {channel!r} in {repo.name} is still eligible",
                               "promote a known good image with `shipmark promote --force --reason`",
                               refused[:20])

