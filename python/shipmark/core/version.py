"""The version-tag scheme and the total order on images.

A version tag carries the build identity in a valid Docker tag:
`1.4.2-b123.20261128.abc1234` = version 1.4.2, build 123, built 2026-11-28 UTC, commit abc1234.
Tags order by version (numerically: 1.10 after 1.9; a pre-release before its release), then
build number (10 after 9), then date. Tags that are not version tags (stable, latest) have no
place in the order.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Optional, Tuple

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
        nums = self.numbers + (0,) * (4 - len(self.numbers))
        if self.pre is None:
            pre_key: tuple = ((2, 0, ""),)   # a release sorts after all its pre-releases
        else:
            pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre.split("."))
        return (nums, pre_key, self.build, self.date or "")

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


def sort_newest_first(tags) -> list:
    """Version tags, newest first; no request needed. Other tags are left out."""
    parsed = [(t, parse_tag(t)) for t in tags]
    return [t for t, v in sorted(((t, v) for t, v in parsed if v), key=lambda tv: (tv[1].key, tv[0]),
                                 reverse=True)]


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
