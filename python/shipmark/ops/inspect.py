"""Reading state: one image's status, a repository's images."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Dict, List, Optional, Sequence

from ..core import record as rec
from ..core import version
from ..core.policy import Decision, Policy, evaluate, membership
from ..core.record import RESULTS, check_name
from ..core.ref import Ref
from ..core.services import is_deployed_tag
from ..core.state import STATES, summary
from ..errors import InputError
from ..stores.base import Store
from ..stores.discovery import Listed, Skipped
from .images import Image, Scan, load, newest_first, version_tags_of
from .notes import Notes


def channel_tags(tags: List[str], image: Image) -> List[str]:
    """Of the tags pointing at an image, the channel tags: those a promotion of this image moved
    (not `deployed.<target>`, `latest` or a tag pushed by hand)."""
    return [t for t in tags if t in image.state.promotions and not is_deployed_tag(t)]


@dataclass
class Status:
    image: Image
    channels: List[str]                  # channel tags pointing at this image now
    eligible: Dict[str, Decision]
    listed: Listed                       # what the registry lists as the image's referrers
    not_counted: List[Skipped] = field(default_factory=list)
    members: List[str] = field(default_factory=list)         # channels this image is a member of
    rejection: Optional[str] = None                          # "rejected by X at T: why"
    details: Dict[str, dict] = field(default_factory=dict)   # record digest -> reason, forced, rollback
    policy_digest: Optional[str] = None     # the policy these answers were decided under
    policy_source: Optional[str] = None

    def to_json(self) -> dict:
        state = self.image.state
        return {"image": self.image.pinned, "digest": self.image.digest, "tags": self.image.tags,
                "channels": self.channels, "members": self.members,
                "state": dict(state.to_json(), summary=summary(state), rejection=self.rejection),
                "eligible": {c: d.to_json() for c, d in self.eligible.items()},
                "policy": self.policy_digest, "policy_source": self.policy_source,
                "timeline": [dict(r.to_json(), **self.details.get(r.digest, {}))
                             for r in newest_first(self.image.records)],
                "untrusted": [u.to_json() for u in self.image.untrusted],
                "referrers": {"source": self.listed.source, "listed": len(self.listed.referrers),
                              "not_counted": [s.to_json() for s in self.not_counted]}}


def status(*, store: Store, ref: Ref, policy: Optional[Policy], now: datetime) -> Status:
    scan = Scan(store, ref.repo)
    image = load(store, ref, scan.found, policy=policy, now=now)
    rules = policy or Policy.open()   # without any policy: membership only, no eligibility
    channels = channel_tags([t for t in scan.other_tags if scan.channel_digest(t) == image.digest], image)
    eligible = {name: evaluate(rules, name, image.state, now, image.built_at) for name in rules.channels}
    members = [name for name in sorted(set(rules.channels) | set(image.state.promotions))
               if membership(rules, name, image.state, now, image.built_at).ok]
    # The same tags however the image was named (by version, channel or digest): the tag given,
    # its version tags (from the tag list, unless the tag given is one) and the channel tags.
    named = {ref.tag} if ref.tag else set()
    if ref.tag not in scan.version_tags:
        named.update(version_tags_of(scan.found, image.digest, scan.version_tags))
    image.tags = sorted(named | set(channels), key=lambda t: (version.parse_tag(t) is None, t))
    listed = scan.found.listed(image.digest)
    not_counted = list(listed.skipped) + [
        Skipped(d.digest, "a shipmark record without a tag of its own (another tool attached it): "
                          "`shipmark repair` adopts it")
        for d in scan.found.unadopted(image.digest, listed)]
    notes = Notes(store)
    details: Dict[str, dict] = {}
    for r in image.records:
        if r.kind in (rec.REJECTION, rec.RESTORATION, rec.PROMOTION) or (
                r.kind == rec.DEPLOYMENT and r.result == "failed"):
            pred = notes.predicate(image.repo, r)
            extra = {k: pred[k] for k in ("reason", "forced", "rollback") if pred.get(k)}
            if extra:
                details[r.digest] = extra
    return Status(image, channels, eligible, listed, not_counted, members, notes.rejection(image), details,
                  policy.digest if policy else None, policy.source if policy else None)


@dataclass
class Listing:
    repo: Ref
    images: List[Image]
    channels: Dict[str, List[str]] = field(default_factory=dict)   # digest -> channel tags
    filtered: bool = False                                         # --state / --where / --eligible given
    any_images: bool = True                                        # the repository has version tags
    eligible: Dict[str, List[str]] = field(default_factory=dict)   # digest -> channels it may enter

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "images": [
            {"tag": i.tags[0], "tags": i.tags, "digest": i.digest, "image": i.pinned,
             "summary": summary(i.state), "channels": self.channels.get(i.digest, []),
             "eligible": self.eligible.get(i.digest, []),
             "state": i.state.to_json(), "untrusted": [u.to_json() for u in i.untrusted]}
            for i in self.images]}


def parse_where(where: List[str]) -> Dict[str, str]:
    out = {}
    for item in where:
        suite, sep, result = item.partition("=")
        if not sep or result not in RESULTS + ("none",):
            raise InputError(f"--where {item!r} is not SUITE=RESULT",
                             f"write e.g. --where acceptance=passed (results: {', '.join(RESULTS)}, none)")
        out[check_name("suite", suite)] = result
    return out


def _matches(image: Image, state_filter: Optional[str], where: Dict[str, str]) -> bool:
    state = image.state
    if state_filter and summary(state).split(":")[0] != state_filter:
        return False
    return all((state.result(suite) or "none") == result for suite, result in where.items())


def eligible_channels(policy: Optional[Policy], image: Image, now: datetime) -> List[str]:
    """The policy's channels this image may enter now (as promote decides), in policy order."""
    if policy is None:
        return []
    return [name for name in policy.channels if evaluate(policy, name, image.state, now, image.built_at).ok]


def list_images(*, store: Store, repo: Ref, state: Optional[str] = None, where: Sequence[str] = (),
                limit: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None,
                policy: Optional[Policy] = None, now: Optional[datetime] = None,
                eligible_for: Optional[str] = None) -> Listing:
    """`eligible_for`: only images the policy lets into that channel now."""
    if state is not None and state not in STATES:
        raise InputError(f"--state {state!r} is not a state", f"use one of: {', '.join(STATES)}")
    conditions = parse_where(list(where))
    if eligible_for is not None:
        if policy is None:
            raise InputError(f"no policy says which images may enter {eligible_for!r}",
                             "give the policy that names the channel")
        policy.channel(eligible_for)   # a channel the policy does not name is bad input
    scan = Scan(store, repo, progress, policy=policy, now=now)
    images: List[Image] = []
    eligible: Dict[str, List[str]] = {}
    for image in scan.images():
        if not _matches(image, state, conditions):
            continue
        if eligible_for is not None and policy is not None and not evaluate(policy, eligible_for, image.state, scan.now,
                                                     image.built_at).ok:
            continue
        images.append(image)
        eligible[image.digest] = eligible_channels(policy, image, scan.now)
        if limit and len(images) >= limit:
            break
    channels: Dict[str, List[str]] = {}
    listed = {i.digest: i for i in images}
    for tag in scan.other_tags:
        digest = scan.channel_digest(tag)
        if digest in listed and channel_tags([tag], listed[digest]):
            channels.setdefault(digest, []).append(tag)
    return Listing(repo, images, channels, filtered=bool(state or conditions or eligible_for),
                   any_images=bool(scan.version_tags), eligible=eligible)
