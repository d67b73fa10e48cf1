"""An image's current state: a fold of its records.

Only records that count reach the fold (core.trust decides). A suite's result is its newest
test record (by created, ties by digest). A rejection stands until a restoration names its
digest: undo by reference, so no clock, real or forged, can bring a rejected image back. The
provenance is the newest provenance record, except that one without a branch never replaces
one with a branch.

A promotion record says a channel tag was moved; for `after:` that is not enough, since a
record can exist without the move (the copy of another repository's record, a record left by a
run that failed, or one written by hand). `moved` holds what the registry confirms instead;
the reader fills it in (ops/trail.py), and an empty one confirms nothing.
"""

from dataclasses import dataclass, field
from typing import Container, Dict, Iterable, List, Optional

from .record import DEPLOYMENT, PROMOTION, PROVENANCE, REJECTION, RESTORATION, TEST, Record

# What `summary` can say, for `list --state`.
STATES = ("rejected", "failed", "passed", "untested")


@dataclass
class ImageState:
    timeline: List[Record] = field(default_factory=list)        # oldest first
    suites: Dict[str, Record] = field(default_factory=dict)     # suite -> newest test record
    promotions: Dict[str, Record] = field(default_factory=dict)  # channel -> newest promotion
    deployments: Dict[str, Record] = field(default_factory=dict)  # target -> newest deployment
    provenance: Optional[Record] = None
    rejections: List[Record] = field(default_factory=list)      # standing ones, oldest first
    moved: Container[str] = frozenset()   # channels whose tag the registry shows was moved to the image

    @property
    def rejected(self) -> bool:
        return bool(self.rejections)

    @property
    def verdict(self) -> Optional[Record]:
        """The newest standing rejection."""
        return self.rejections[-1] if self.rejections else None

    def promoted_into(self, channel: str) -> bool:
        """A counting promotion record into `channel` exists: what channel membership asks."""
        return channel in self.promotions

    def entered(self, channel: str) -> bool:
        """The image really was in `channel`: a counting promotion into it, and the registry
        confirms that the channel tag was moved to the image. What the `after:` rule asks."""
        return channel in self.promotions and channel in self.moved

    def in_channel(self, channel: str) -> bool:
        """Member of a (promotion-based) channel: a counting promotion into it and no rejection
        standing. Forced promotions count like any other."""
        return self.promoted_into(channel) and not self.rejected

    def result(self, suite: str) -> Optional[str]:
        rec = self.suites.get(suite)
        return rec.result if rec else None

    def to_json(self) -> dict:
        return {
            "rejected": self.rejected,
            "suites": {s: r.result for s, r in sorted(self.suites.items())},
            "promoted_to": sorted(self.promotions),
            "deployments": {t: r.result for t, r in sorted(self.deployments.items())},
            "built_from": self.provenance.branch if self.provenance else None,
        }


def fold(records: Iterable[Record], moved: Container[str] = frozenset()) -> ImageState:
    state = ImageState(timeline=sorted(records, key=lambda r: r.order), moved=moved)
    undone = {d for r in state.timeline if r.kind == RESTORATION for d in r.restores}
    for rec in state.timeline:   # oldest first: later records overwrite earlier ones
        if rec.kind == TEST and rec.suite:
            state.suites[rec.suite] = rec
        elif rec.kind == PROMOTION and rec.channel:
            state.promotions[rec.channel] = rec
        elif rec.kind == DEPLOYMENT and rec.target:
            state.deployments[rec.target] = rec
        elif rec.kind == PROVENANCE:
            # One recorded by hand without git details never hides the build's own.
            if rec.branch or state.provenance is None or not state.provenance.branch:
                state.provenance = rec
        elif rec.kind == REJECTION and rec.digest not in undone:
            state.rejections.append(rec)
    return state


def summary(state: ImageState) -> str:
    """One short phrase for listings: rejected / failed: x / passed: a, b / untested."""
    if state.rejected:
        return "rejected"
    failed = sorted(s for s, r in state.suites.items() if r.result == "failed")
    if failed:
        return "failed: " + ", ".join(failed)
    passed = sorted(s for s, r in state.suites.items() if r.result in ("passed", "warned"))
    if passed:
        return "passed: " + ", ".join(passed)
    return "untested"
