"""Channels: promote an image into one, pick what a channel holds (its members), roll back, history."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Dict, List, Optional, Tuple

from ..core import record as rec
from ..core import version
from ..core.descriptor import Descriptor, Manifest
from ..core.dsse import Signer
from ..core.policy import Decision, Policy, evaluate, membership
from ..core.record import Record, check_name
from ..core.ref import TAG_RE, Ref
from ..errors import InputError, NotFoundError, NothingEligibleError, PolicyError, ShipmarkError
from ..stores.base import Store
from ..stores.discovery import Discovery
from .annotate import Annotated, verdict
from .copy import copy_image
from .images import Image, Scan, attach, ignored, load, version_tags_of
from .notes import Notes


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
                "record": self.record.to_json() if self.record else None, "copied_to": self.copied_to,
                "untrusted": [u.to_json() for u in self.image.untrusted]}


def _channel_digest(store: Store, repo: Ref, channel: str) -> Optional[str]:
    try:
        return store.head_manifest(repo.with_tag(channel)).digest
    except NotFoundError:
        return None


def _resolve(store: Store, ref: Ref) -> Tuple[Descriptor, Optional[Manifest]]:
    """Where the image named by tag points, and its manifest: a move puts these very bytes under
    the channel tag, and one GET answers both (a HEAD and then a GET by digest were two requests
    whenever the manifest cache did not hold it, as for any image another client pushed). By
    digest: a HEAD, which checks that this repository holds it (the manifest cache cannot)."""
    if ref.digest:
        return store.head_manifest(ref), None
    manifest = store.get_manifest(ref)
    return Descriptor(manifest.media_type, manifest.digest, len(manifest.raw)), manifest


def _move_channel(store: Store, image: Image, channel: str, previous: Optional[str], now: datetime,
                  by: Optional[str], predicate: dict, policy: Policy, signer: Optional[Signer],
                  manifest: Optional[Manifest] = None) -> Record:
    """The tag first, then the record, so that a record written here is proof that the tag moved;
    a run that fails in between leaves the tag on the image without a record, and the rerun (which
    finds the tag already there) writes it. Readers still check the move for `after:`
    (ops/trail.py): records also come from copies, older writers and other tools. `manifest`:
    the image's manifest when the caller has read it."""
    if previous != image.digest:
        if manifest is None or manifest.digest != image.digest:
            manifest = store.get_manifest(image.repo.with_digest(image.digest))
        store.put_manifest(image.repo.with_tag(channel), manifest)   # byte-exact: same digest
    else:
        predicate = dict(predicate, previous=None, resumed=True)   # where it pointed before is lost
    new = rec.build(rec.PROMOTION, image.descriptor, image.repo.name, predicate, now, by,
                    channel=channel, previous=predicate.get("previous") or None,
                    policy=policy.digest or "unknown", signer=signer)
    record = attach(store, image, new)
    image.moved.add(channel)
    return record


def _refused(what: str, channel: str, source: str, reasons: List[str]) -> PolicyError:
    return PolicyError(f"{what} may not enter channel {channel!r} ({source})",
                       "`shipmark status` shows the image's records; to override the policy on purpose: "
                       "--force --reason TEXT (recorded)", reasons)


def promote(*, store: Store, ref: Ref, channel: str, policy: Policy, now: datetime, by: Optional[str],
            dry_run: bool = False, force: bool = False, reason: Optional[str] = None,
            copy_to: Optional[Ref] = None, copy_store: Optional[Store] = None,
            records_only: bool = False, signer: Optional[Signer] = None) -> Promotion:
    check_name("channel", channel)
    rec.check_text("reason", reason)
    if force and not reason:
        raise InputError("a forced promotion needs a reason", "say why the policy is overridden: it is recorded")
    policy.channel(channel)   # a channel the policy does not name is bad input
    desc, manifest = _resolve(store, ref)
    image = load(store, ref, policy=policy, now=now, desc=desc)
    target_store = copy_store or store
    target_repo = copy_to.repo if copy_to is not None else image.repo
    previous = _channel_digest(target_store, target_repo, channel)
    decision = evaluate(policy, channel, image.state, now, image.built_at)
    if copy_to is None and previous == image.digest and image.state.in_channel(channel):
        return Promotion(image, channel, promoted=False, dry_run=dry_run, forced=False, decision=decision,
                         already=True, record=image.state.promotions[channel])
    if not decision.ok and not force:
        raise _refused(str(ref), channel, policy.source, Notes(store).explain(image, decision.reasons))
    result = Promotion(image, channel, promoted=False, dry_run=dry_run, forced=force and not decision.ok,
                       decision=decision)
    if copy_to is not None:
        result.copied_to = f"{copy_to.name}@{image.digest}"
    if dry_run:
        return result
    if copy_to is not None:
        found = image.found or Discovery(store, image.repo)
        tags = [t for t in image.tags if version.parse_tag(t)] or version_tags_of(
            found, image.digest, found.versions()[0])
        image = copy_image(store, image, target_store, copy_to.repo, records_only=records_only)
        if manifest is None:   # the copy has the same bytes
            manifest = target_store.get_manifest(image.repo.with_digest(image.digest))
        for tag in tags:   # the copy is listed, picked and shown by its version there too
            target_store.put_manifest(image.repo.with_tag(tag), manifest)
        image.tags = tags
        result.image = image
        if previous == image.digest and image.state.in_channel(channel):
            result.already, result.record = True, image.state.promotions[channel]
            return result
    predicate = {"channel": channel, "previous": previous, "policy": policy.source,
                 "policyDigest": policy.digest, "noPolicy": policy.open_by_default,
                 "forced": result.forced, "overridden": decision.reasons if result.forced else [],
                 "reason": reason, "by": by}
    result.record = _move_channel(target_store, image, channel, previous, now, by, predicate, policy, signer,
                                  manifest)
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
                "untrusted": [u.to_json() for u in self.image.untrusted], "skipped": self.skipped}


def nothing_in_channel(repo: Ref, channel: str, auto: bool, skipped: List[dict]) -> NothingEligibleError:
    reasons = [f"{s['tag']}: {'; '.join(s['reasons'])}" for s in skipped[:20]]
    if auto:
        return NothingEligibleError(f"no image in {repo.name} may enter channel {channel!r}",
                                    "`shipmark list` shows each image's state", reasons)
    return NothingEligibleError(f"channel {channel!r} of {repo.name} has no member",
                                f"an image joins it when promoted: shipmark promote IMAGE --to {channel} "
                                "(--force --reason TEXT overrides the policy)", reasons)


def pick(*, store: Store, repo: Ref, channel: str, policy: Policy, now: datetime,
         progress: Optional[Callable[[int, int], None]] = None, found: Optional[Discovery] = None) -> Pick:
    """What the channel holds: its newest member (an `auto` channel: the newest image its policy
    admits). Walks version tags newest-first and stops at the first one."""
    rules = policy.channel(channel)
    scan = Scan(store, repo, progress, found, policy=policy, now=now)
    notes = Notes(store)
    skipped: List[dict] = []
    # The answer is usually among the newest few: a small first round.
    for image in scan.images(batch=4):
        decision = membership(policy, channel, image.state, now, image.built_at)
        if decision.ok:
            if not scan.verified(image):
                # A version tag was pushed again: forget what was cached and walk afresh.
                return pick(store=store, repo=repo, channel=channel, policy=policy, now=now, progress=progress,
                            found=scan.found)
            return Pick(repo, channel, image, skipped)
        skipped.append(dict({"tag": image.tags[0], "digest": image.digest,
                             "reasons": notes.explain(image, decision.reasons)}, **ignored(image)))
    if not scan.version_tags:
        raise NothingEligibleError(f"{repo.name} has no version tags",
                                   "push images tagged like 1.4.2-b12.20261128.abc1234 (see `shipmark tag`)")
    raise nothing_in_channel(repo, channel, rules.auto, skipped)


@dataclass
class HistoryEntry:
    image: Image
    record: Record
    marks: List[str] = field(default_factory=list)       # forced: why / rollback
    rejection: Optional[str] = None                      # "rejected by X at T: why"

    def to_json(self) -> dict:
        return {"image": self.image.pinned, "tag": self.image.tags[0] if self.image.tags else None,
                "digest": self.image.digest, "promoted_at": self.record.created, "by": self.record.by,
                "forced": any(m.startswith("forced") for m in self.marks),
                "rollback": any(m.startswith("rollback") for m in self.marks),
                "rejected": self.image.state.rejected, "rejection": self.rejection}


@dataclass
class History:
    repo: Ref
    channel: str
    current: Optional[str]      # what the channel holds now (pick's answer)
    tag: Optional[str]          # where the channel tag points
    entries: List[HistoryEntry]
    untrusted: List[dict] = field(default_factory=list)   # promotion records that do not count

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "channel": self.channel, "current": self.current, "tag": self.tag,
                "entries": [e.to_json() for e in self.entries], "untrusted": self.untrusted}


def history(*, store: Store, repo: Ref, channel: str, policy: Policy, now: datetime,
            progress: Optional[Callable[[int, int], None]] = None) -> History:
    """Every promotion into `channel`, newest first (an image promoted twice appears twice), with
    forced and rollback promotions marked, and what the channel holds now. Promotion records
    that do not count are listed apart, with the reason."""
    check_name("channel", channel)
    scan = Scan(store, repo, progress, policy=policy, now=now)
    notes = Notes(store)
    entries, current, untrusted = [], None, []
    for image in scan.images():
        untrusted += [dict(u.to_json(), image=image.pinned) for u in image.untrusted
                      if u.kind in (None, rec.PROMOTION)]
        if current is None and membership(policy, channel, image.state, now, image.built_at).ok:
            current = image.digest
        for r in image.records:
            if r.kind == rec.PROMOTION and r.channel == channel:
                entries.append(HistoryEntry(image, r, notes.promotion_marks(repo, r), notes.rejection(image)))
    entries.sort(key=lambda e: e.record.order, reverse=True)
    return History(repo, channel, current, scan.channel_digest(channel), entries, untrusted)


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
             reason: str, signer: Optional[Signer] = None) -> Rollback:
    """Take the image the channel tag points at out of the channel (it is rejected, unless it
    already is) and move the tag to the newest remaining member: afterwards the tag, `pick` and
    the nightly agree on that member."""
    if not reason:
        raise InputError("a rollback needs a reason", "say why: it is recorded on the image")
    rec.check_text("reason", reason)
    if policy.channel(channel).auto:
        raise InputError(f"channel {channel!r} is auto: it holds the newest image its policy admits",
                         "reject the bad image instead (shipmark reject IMAGE --reason TEXT): the channel "
                         "then holds the next one")
    scan = Scan(store, repo, policy=policy, now=now)
    tagged = scan.channel_digest(channel)
    gone = target = None
    for image in scan.images(batch=4):
        if tagged is None and gone is None and image.state.in_channel(channel):
            gone = image   # no channel tag: roll back from the newest member
        elif image.digest != tagged and image.state.in_channel(channel):
            target = image
            break
    if tagged is None and gone is None:
        raise NothingEligibleError(f"channel {channel!r} of {repo.name} has no member to roll back from",
                                   f"promote an image first: shipmark promote IMAGE --to {channel}")
    if target is None:
        raise NothingEligibleError(f"channel {channel!r} of {repo.name} has no earlier member to roll back to",
                                   "promote a known good image with: shipmark promote IMAGE --to "
                                   f"{channel} (--force --reason TEXT overrides the policy)")
    if gone is None:
        assert tagged is not None   # refused above when there is neither
        gone = scan.load(repo.with_digest(tagged))
    rejection = None
    if not gone.state.rejected:
        new = rec.build(rec.REJECTION, gone.descriptor, repo.name,
                        {"reason": f"rolled back: {reason}", "by": by}, now, by, signer=signer)
        rejection = attach(store, gone, new)
    predicate = {"channel": channel, "previous": tagged, "rollback": True, "reason": reason, "by": by,
                 "policy": policy.source, "policyDigest": policy.digest, "noPolicy": policy.open_by_default}
    record = _move_channel(store, target, channel, tagged, now, by, predicate, policy, signer)
    return Rollback(repo, channel, gone.pinned, target, record, rejection)


@dataclass
class Rejected:
    verdict: Annotated
    channels: List[str]                 # channel tags that pointed at the image when it was rejected
    rollbacks: List[Rollback] = field(default_factory=list)
    stuck: Dict[str, ShipmarkError] = field(default_factory=dict)   # channel -> why its tag stays

    def to_json(self) -> dict:
        return dict(self.verdict.to_json(), channels=self.channels,
                    rollbacks=[r.to_json() for r in self.rollbacks],
                    not_rolled_back=[{"channel": c, "type": type(e).__name__, "message": e.message, "hint": e.hint}
                                     for c, e in self.stuck.items()])


def channels_at(store: Store, image: Image) -> List[str]:
    """The channel tags pointing at the image now: of the channels it was promoted into, those
    whose tag is still on it (one HEAD each)."""
    names = [c for c in sorted(image.state.promotions) if TAG_RE.match(c)]   # a channel name may hold : or /
    return [c for c in names if _channel_digest(store, image.repo, c) == image.digest]


def reject(*, store: Store, ref: Ref, now: datetime, by: Optional[str], reason: str,
           rollback_policy: Optional[Policy] = None, signer: Optional[Signer] = None) -> Rejected:
    """Reject the image, then find the channel tags still on it: `pick` and the nightly skip it
    from now on, but `docker pull REPO:CHANNEL` still gets it. With `rollback_policy`, each such
    channel is rolled back to its previous member; a channel that has none (or is `auto`) keeps
    its tag and is reported in `stuck`."""
    out = Rejected(verdict(store=store, ref=ref, now=now, by=by, reject=True, reason=reason, signer=signer), [])
    out.channels = channels_at(store, out.verdict.image)
    if rollback_policy is None:
        return out
    for name in out.channels:
        try:
            out.rollbacks.append(rollback(store=store, repo=ref.repo, channel=name, policy=rollback_policy,
                                          now=now, by=by, reason=reason, signer=signer))
        except (NothingEligibleError, InputError) as exc:   # no earlier member; an auto channel
            out.stuck[name] = exc
    return out
