"""Where a channel tag has been, as far as the registry can show: what `after:` is decided on.

A promotion record alone is not proof that its channel tag moved: a copy brings along the
records of another repository, an older shipmark wrote the record before moving the tag (and
kept it when the move failed), and anyone allowed to push can attach a record. So an image
counts as having entered channel C (ImageState.entered) when it has a counting promotion into
C and the repository shows the tag was there:
- C's tag points at the image now, or
- walking back from the image the tag points at, each holder's promotion into C names the
  image it moved the tag away from (`previous`, read from the tag just before the move), and
  one of them names this image.
The walk follows, for each holder, its newest promotion into C older than the move that
replaced it (a rollback returns to an image, so one image can appear twice). It stops where a
holder has no such promotion or the promotion names no previous image (the channel's first
promotion, a rerun that found the tag already moved, a tag moved by another tool), and, for
one question, once it is older than the image's own promotion (minus the clock skew allowed
for records): a move away from the image cannot come before the move to it. The walk is shared
by every question about the same channel and goes no further back than the oldest question.
"""

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Dict, Optional, Set

from ..core.record import PROMOTION, Record, parse_time
from ..core.ref import DIGEST_RE
from ..core.trust import FUTURE_SKEW

if TYPE_CHECKING:   # images.py imports this module
    from .images import Image

Head = Callable[[str], Optional[str]]               # channel -> digest its tag points at, or None
Loader = Callable[[str], Optional["Image"]]         # digest -> the image with its counting records


def _moves(image: Optional["Image"], channel: str) -> list:
    """The image's counting promotions into `channel`, oldest first."""
    if image is None:
        return []
    return sorted((r for r in image.records if r.kind == PROMOTION and r.channel == channel), key=lambda r: r.order)


def _created(record: Record) -> datetime:
    # A record that counts has a valid time (core.trust); were it not, it would end the walk.
    return parse_time(record.created) or datetime.min.replace(tzinfo=timezone.utc)


class ChannelTrail:
    """The images one channel's tag has been on, found by walking back from where it is now."""

    def __init__(self, channel: str, head: Optional[str], load: Loader):
        self.channel = channel
        self.held: Set[str] = {head} if head else set()
        self._load = load
        self._at = head                          # the holder whose move-in is read next
        self._before: Optional[tuple] = None     # ... its newest promotion older than this (order)
        self._reached: Optional[datetime] = None  # when the oldest move followed so far was made

    def confirms(self, image: "Image") -> bool:
        ours = _moves(image, self.channel)
        if not ours:
            return False
        since = _created(ours[0]) - FUTURE_SKEW
        while image.digest not in self.held and self._step(since):
            pass
        return image.digest in self.held

    def _step(self, since: datetime) -> bool:
        """Read one more move back; False once the trail ends or is older than `since`."""
        if self._at is None or (self._reached is not None and self._reached < since):
            return False
        moves = [r for r in _moves(self._load(self._at), self.channel)
                 if self._before is None or r.order < self._before]
        move = moves[-1] if moves else None
        if move is None or not isinstance(move.previous, str) or not DIGEST_RE.match(move.previous):
            self._at = None
            return False
        self.held.add(move.previous)
        self._at, self._before, self._reached = move.previous, move.order, _created(move)
        return True


class Trails:
    """One repository's channel trails, each started on its first question."""

    def __init__(self, head: Head, load: Loader):
        self._head = head
        self._load = load
        self._trails: Dict[str, ChannelTrail] = {}

    def entered(self, image: "Image", channel: str) -> bool:
        if channel not in self._trails:
            self._trails[channel] = ChannelTrail(channel, self._head(channel), self._load)
        return self._trails[channel].confirms(image)


class Moved:
    """`channel in image.state.moved`: asked of the image's repository trails on first use and
    remembered for the image (ImageState is folded again when records are added)."""

    def __init__(self, image: "Image"):
        self._image = image
        self._known: Dict[str, bool] = {}

    def add(self, channel: str) -> None:
        """This process moved the tag itself."""
        self._known[channel] = True

    def __contains__(self, channel: object) -> bool:
        if not isinstance(channel, str):
            return False
        if channel not in self._known:
            trails = self._image.trails
            self._known[channel] = trails is not None and trails.entered(self._image, channel)
        return self._known[channel]

