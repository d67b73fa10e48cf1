"""What one repository's discovery remembers across runs (stores/discovery.py owns it).

- The order of the version tags (core.version.order, oldest first), so that a run parses and
  places only tags it has not seen: ordering a thousand tags from scratch on every run was most
  of a warm nightly plan's CPU. Tags that are gone are dropped, new ones put in place; the
  answer is the one a fresh sort gives (ORDER_SCHEME names the rules it was made with).
- Version tag -> descriptor. Version tags are immutable in shipmark's model
  (`1.4.2-b123.20261128.abc1234` names one build forever), so a scan need not HEAD every one
  of them each time: on Docker Registry 2.8 a 1,000-tag listing otherwise costs 1,000
  requests. Channel tags move and are never kept. `pick` checks the image it returns with one
  request, so a tag that was pushed again anyway cannot send a stale digest to a deployment.
- Record digest -> descriptor and subject. Records are content-addressed, so an entry is
  exactly what its per-record tag names; which records exist is always read from the tag list.
- Record digest -> what its bytes said (a core.trust.Reading) for the image and keys it was
  read with, so a warm read checks no payload again. Content-addressed too, so never stale.
- Whether the registry lists referrers itself, with the time it was asked (asked again after a
  day), so a write does not probe on every run.
"""

import hashlib
import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from ..core.descriptor import Descriptor
from ..errors import ShipmarkError

API_TTL = 24 * 3600
ORDER_SCHEME = 1   # bump when core.version's order changes: an order kept by older rules is dropped


class RepoCache:
    def __init__(self, repo_name: str, root: str):
        key = hashlib.sha256(repo_name.encode("utf-8")).hexdigest()[:32]
        self.path = os.path.join(root, "repos", key + ".json")
        self.tags: Dict[str, Descriptor] = {}
        self.records: Dict[str, Tuple[Descriptor, str]] = {}
        self.readings: Dict[str, Tuple[str, dict]] = {}   # record digest -> (read with, Reading)
        self.order: List[str] = []                          # version tags, oldest first
        self._api: Optional[Tuple[bool, float]] = None
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            self.tags = {t: Descriptor.from_json(d) for t, d in data["tags"].items()}
            self.records = {d: (Descriptor.from_json(r["descriptor"]), str(r["subject"]))
                            for d, r in data["records"].items()}
            self.readings = {d: (str(r["with"]), dict(r["reading"]))
                             for d, r in data.get("readings", {}).items()}
            order = data.get("order") or {}
            kept = order.get("tags")
            if order.get("scheme") == ORDER_SCHEME and isinstance(kept, list) \
                    and all(isinstance(t, str) for t in kept):
                self.order = kept
            api = data.get("api")
            if api:
                self._api = (bool(api["supported"]), float(api["checked"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ShipmarkError):
            # none yet, or damaged
            self.tags, self.records, self.readings, self.order, self._api = {}, {}, {}, [], None
        self._dirty = False

    def put_tag(self, tag: str, desc: Descriptor) -> None:
        plain = Descriptor(desc.media_type, desc.digest, desc.size)
        if self.tags.get(tag) != plain:
            self.tags[tag] = plain
            self._dirty = True

    def forget_tag(self, tag: str) -> None:
        if self.tags.pop(tag, None) is not None:
            self._dirty = True

    def put_order(self, ascending: List[str]) -> None:
        """The version tags now, oldest first; what is remembered of tags that are gone goes."""
        if ascending == self.order:
            return
        self.order = ascending
        present = set(ascending)
        for tag in [t for t in self.tags if t not in present]:
            del self.tags[tag]
        self._dirty = True

    def put_record(self, digest: str, desc: Descriptor, subject: str) -> None:
        if digest not in self.records:
            self.records[digest] = (desc, subject)
            self._dirty = True

    def put_reading(self, digest: str, read_with: str, reading: dict) -> None:
        if self.readings.get(digest) != (read_with, reading):
            self.readings[digest] = (read_with, reading)
            self._dirty = True

    def api(self, now: float) -> Optional[bool]:
        if self._api is None or now - self._api[1] > API_TTL:
            return None
        return self._api[0]

    def put_api(self, supported: bool, now: float) -> None:
        self._api = (supported, now)
        self._dirty = True

    def save(self) -> None:
        """Best-effort atomic write: a cache that cannot be written costs only speed."""
        if not self._dirty:
            return
        data: Dict[str, Any] = {"tags": {t: d.to_json() for t, d in sorted(self.tags.items())},
                "records": {r: {"descriptor": d.to_json(), "subject": s}
                            for r, (d, s) in sorted(self.records.items())},
                "readings": {r: {"with": w, "reading": x} for r, (w, x) in sorted(self.readings.items())}}
        if self.order:
            data["order"] = {"scheme": ORDER_SCHEME, "tags": self.order}
        if self._api is not None:
            data["api"] = {"supported": self._api[0], "checked": self._api[1]}
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(self.path))
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(data))   # json.dump would run the pure-Python encoder: 4x slower
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            pass
