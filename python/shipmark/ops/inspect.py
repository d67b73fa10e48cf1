"""Reading state: one image's status, a repository's images."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Dict, List, Optional

from ..core.policy import Decision, Policy, evaluate
from ..core.record import RESULTS, check_name
from ..core.ref import Ref
from ..core.state import STATES, summary
from ..errors import InputError
from ..stores.base import Store
from ..stores.discovery import Listed, Skipped
from .images import Image, Scan, newest_first


@dataclass
class Status:
    image: Image
    channels: List[str]                  # channel tags pointing at this image now
    eligible: Dict[str, Decision]
    listed: Listed                       # what the registry lists as the image's referrers
    not_counted: List[Skipped] = field(default_factory=list)

    def to_json(self) -> dict:
        state = self.image.state
        return {"image": self.image.pinned, "digest": self.image.digest, "tags": self.image.tags,
                "channels": self.channels, "state": dict(state.to_json(), summary=summary(state)),
                "eligible": {c: d.to_json() for c, d in self.eligible.items()},
                "timeline": [r.to_json() for r in newest_first(self.image.records)],
                "referrers": {"source": self.listed.source, "listed": len(self.listed.referrers),
                              "not_counted": [s.to_json() for s in self.not_counted]}}


def status(*, store: Store, ref: Ref, policy: Policy, now: datetime) -> Status:
    scan = Scan(store, ref.repo)
    image = scan.load(ref)
    channels = [t for t in scan.other_tags if scan.channel_digest(t) == image.digest]
    eligible = {name: evaluate(policy, name, image.state, now, image.built_at) for name in policy.channels}
    image.tags = sorted(set(image.tags) | set(channels))
    listed = scan.found.listed(image.digest)
    not_counted = list(listed.skipped) + [
        Skipped(d.digest, "a shipmark record without a tag of its own (another tool attached it): "
                          "`shipmark repair` adopts it")
        for d in scan.found.unadopted(image.digest, listed)]
    return Status(image, channels, eligible, listed, not_counted)


@dataclass
class Listing:
    repo: Ref
    images: List[Image]
    channels: Dict[str, List[str]] = field(default_factory=dict)   # digest -> channel tags

    def to_json(self) -> dict:
        return {"repo": self.repo.name, "images": [
            {"tag": i.tags[0], "tags": i.tags, "digest": i.digest, "image": i.pinned,
             "summary": summary(i.state), "channels": self.channels.get(i.digest, []),
             "state": i.state.to_json()} for i in self.images]}


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


def list_images(*, store: Store, repo: Ref, state: Optional[str] = None, where: List[str] = (),
                limit: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None) -> Listing:
    if state is not None and state not in STATES:
        raise InputError(f"--state {state!r} is not a state", f"use one of: {', '.join(STATES)}")
    conditions = parse_where(list(where))
    scan = Scan(store, repo, progress)
    images: List[Image] = []
    for image in scan.images():
        if _matches(image, state, conditions):
            images.append(image)
            if limit and len(images) >= limit:
                break
    channels: Dict[str, List[str]] = {}
    for tag in scan.other_tags:
        digest = scan.channel_digest(tag)
        if digest:
            channels.setdefault(digest, []).append(tag)
    return Listing(repo, images, channels)
