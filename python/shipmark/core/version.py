"""The version-tag scheme and the total order on images.

A version tag carries the build identity in a valid Docker tag:
`1.4.2-b123.20261128.abc1234` = version 1.4.2, build 123, built 2026-11-28 UTC, commit abc1234.
Tags order by version (numerically: 1.10 after 1.9; a pre-release before its release), then
build number (10 after 9), then date. Tags that are not version tags (stable, latest) have no
place in the order.
"""

import re
from bisect import insort
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import InputError
from . import mediatype as mt
from .ref import check_tag

_VERSION_RE = re.compile(r"^v?(\d+(?:\.\d+){0,3})(?:-([0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*))?\Z")
_TAG_RE = re.compile(
    r"^v?(?P<nums>\d+(?:\.\d+){0,3})(?:-(?P<pre>[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*))??"
    r"(?:-b(?P<build>\d{1,9})(?:\.(?P<date>\d{8}))?(?:\.(?P<sha>[0-9a-f]{4,40}))?)?\Z"
)


@dataclass(frozen=True, order=False)
class Version:
    numbers: Tuple[int, ...]
    pre: Optional[str]
    build: int
    date: Optional[str]
    sha: Optional[str]

    @property
    def key(self) -> tuple:
        return _key(self.numbers, self.pre, self.build, self.date)

    @property
    def version(self) -> str:
        out = ".".join(map(str, self.numbers))
        return out + (f"-{self.pre}" if self.pre else "")


def parse_tag(tag: str) -> Optional[Version]:
    """The version a tag carries, or None for tags outside the scheme (stable, latest)."""
    m = _TAG_RE.match(tag)
    if not m:
        return None
    return Version(
        numbers=tuple(int(n) for n in m.group("nums").split(".")),
        pre=m.group("pre"),
        build=int(m.group("build") or 0),
        date=m.group("date"),
        sha=m.group("sha"),
    )


_RELEASE = ((2, 0, ""),)   # a release sorts after all its pre-releases


def _key(numbers: Tuple[int, ...], pre: Optional[str], build: int, date: Optional[str]) -> tuple:
    nums = numbers + (0,) * (4 - len(numbers))
    pre_key = _RELEASE if pre is None else tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                                                 for p in pre.split("."))
    return (nums, pre_key, build, date or "")


def order_key(tag: str) -> Optional[tuple]:
    """Where a tag goes in the order, `(Version.key, tag)` (equal versions order by name), or
    None for tags outside the scheme. Built from the match alone, without a Version."""
    m = _TAG_RE.match(tag)
    if m is None:
        return None
    nums, pre, build, date = m.group("nums", "pre", "build", "date")
    return _key(tuple(map(int, nums.split("."))), pre, int(build or 0), date), tag


def sort_newest_first(tags) -> list:
    """Version tags, newest first; no request needed. Other tags are left out."""
    keyed = [k for k in map(order_key, tags) if k is not None]
    keyed.sort(reverse=True)
    return [tag for _, tag in keyed]


def _insert(ordered: List[str], key: tuple) -> None:
    """Put key's tag in place in `ordered` (oldest first), parsing only the tags it is compared
    with (bisect's own key= needs Python 3.10)."""
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        other = order_key(ordered[mid])
        if other is None:
            raise ValueError(f"{ordered[mid]!r} is not a version tag")
        if key < other:
            hi = mid
        else:
            lo = mid + 1
    ordered.insert(lo, key[1])


def order(tags: Iterable[str], known: Sequence[str] = ()) -> Tuple[List[str], List[str]]:
    """The version tags among `tags` oldest first, and the other tags (sorted by name).

    `known` is an earlier answer's version tags for the same repository: those still present
    keep their place unparsed, and only tags not in it are parsed and put in place with a
    binary search (a few parses each). A nightly run over a thousand tags with a handful of new
    builds therefore costs set lookups, not a thousand parses and a sort; with many new tags it
    sorts them all, as without `known`.
    """
    present = set(tags)
    kept = [t for t in known if t in present]
    was = set(kept)
    keyed, others = [], []
    for tag in present:
        if tag not in was:
            k = order_key(tag)
            if k is None:
                others.append(tag)
            else:
                keyed.append(k)
    others.sort()
    if kept and len(keyed) * len(kept).bit_length() <= len(kept):
        merged = list(kept)
        try:
            for k in keyed:
                _insert(merged, k)
            return merged, others
        except ValueError:   # `known` held a tag outside the scheme: not an earlier answer
            pass
    for tag in kept:        # many new tags, or none known: parse and sort them all
        k = order_key(tag)
        if k is None:
            insort(others, tag)
        else:
            keyed.append(k)
    keyed.sort()
    return [tag for _, tag in keyed], others


def check_version(version: str) -> str:
    if not _VERSION_RE.match(version or ""):
        raise InputError(f"invalid version {version!r}",
                         "use numbers separated by dots with an optional pre-release, like 1.4.2 or 2.0.0-rc.1")
    return version.lstrip("v")


def make_tag(version: str, build: Optional[int], when: datetime, sha: Optional[str]) -> str:
    """`1.4.2-b123.20261128.abc1234`; build and sha are optional, the date is UTC."""
    version = check_version(version)
    tag = version
    if build is not None:
        if build < 0:
            raise InputError(f"invalid build number {build}", "use a whole number >= 0, e.g. $BUILD_NUMBER")
        tag += f"-b{build}.{when.astimezone(timezone.utc):%Y%m%d}"
        if sha:
            short = sha.lower()[:7]
            if not re.fullmatch(r"[0-9a-f]{4,40}", short):
                raise InputError(f"invalid git sha {sha!r}", "pass the commit id, e.g. $GIT_COMMIT")
            tag += "." + short
    return check_tag(tag)


def labels(version: str, when: datetime, revision: Optional[str], source: Optional[str]) -> Dict[str, str]:
    """The standard OCI labels to set at build time."""
    out = {
        mt.L_VERSION: check_version(version),
        mt.L_CREATED: when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if revision:
        out[mt.L_REVISION] = revision
    if source:
        out[mt.L_SOURCE] = source
    return out
