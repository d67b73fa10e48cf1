"""JUnit XML reports -> test counts for a test record."""

import glob
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import List, Sequence

from .errors import InputError

MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_NAMES = 1000   # names kept per list in the record; counts stay exact


@dataclass
class JUnitSummary:
    passed: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    files: List[str] = field(default_factory=list)
    counts: dict = field(default_factory=lambda: {"passed": 0, "failed": 0, "skipped": 0})

    @property
    def result(self) -> str:
        if self.counts["failed"]:
            return "failed"
        return "passed" if self.counts["passed"] else "warned"


def read(patterns: Sequence[str]) -> JUnitSummary:
    """Read every file the glob patterns match. A pattern that matches nothing is an error: a
    missing report must not turn into a passed suite."""
    out = JUnitSummary()
    for pattern in patterns:
        paths = sorted(glob.glob(pattern, recursive=True))
        if not paths:
            raise InputError(f"--junit {pattern!r} matches no file",
                             "check the path of the test reports (relative to the working directory)")
        for path in paths:
            _read_file(path, out)
    return out


def _read_file(path: str, out: JUnitSummary) -> None:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(f"cannot read JUnit report {path}: {exc.strerror}") from None
    if size > MAX_REPORT_BYTES:
        raise InputError(f"JUnit report {path} is {size // (1024 * 1024)} MiB",
                         f"reports over {MAX_REPORT_BYTES // (1024 * 1024)} MiB are refused; split or trim it")
    try:
        # iterparse keeps memory flat on big reports; elements are cleared once counted.
        for _, elem in ET.iterparse(path, events=("end",)):
            if elem.tag != "testcase":
                continue
            name = ".".join(p for p in (elem.get("classname"), elem.get("name")) if p) or "(unnamed)"
            if elem.find("failure") is not None or elem.find("error") is not None:
                bucket = "failed"
            elif elem.find("skipped") is not None:
                bucket = "skipped"
            else:
                bucket = "passed"
            out.counts[bucket] += 1
            names = getattr(out, bucket)
            if len(names) < MAX_NAMES:
                names.append(name)
            elem.clear()
    except ET.ParseError as exc:
        raise InputError(f"JUnit report {path} is not valid XML ({exc})",
                         "check that the test run finished writing it") from None
    out.files.append(path)
