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
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..core.descriptor import Descriptor
from ..errors import ShipmarkError

API_TTL = 24 * 3600
ORDER_SCHEME = 1   # bump when core.version's order changes: an order kept by older rules is dropped


class Entries:
    """One table of the cache, its entries kept as the JSON they were read as and made into
    objects only when asked: a warm command reads a few entries of thousands (making them all
    took 40 ms of every command at 1,000 builds). An entry that does not load is dropped."""

    def __init__(self, raw: Any, load: Callable[[Any], Any], dump: Callable[[Any], Any]):
        self._raw: Dict[str, Any] = raw if isinstance(raw, dict) else {}
        self._made: Dict[str, Any] = {}
        self._load, self._dump = load, dump

    def get(self, key: str) -> Any:
        if key in self._made:
            return self._made[key]
        raw = self._raw.get(key)
        if raw is None:
            return None
        try:
            value = self._load(raw)
        except (ValueError, KeyError, TypeError, AttributeError, ShipmarkError):
            self._raw.pop(key, None)   # damaged: as if never kept
            return None
        self._made[key] = value
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(list({**self._raw, **self._made}))

    def put(self, key: str, value: Any) -> bool:
        """Keep value under key; whether that changed anything."""
        if self.get(key) == value:
            return False
        self._made[key] = value
        self._raw.pop(key, None)
        return True

    def pop(self, key: str) -> bool:
        """Forget key; whether it was there."""
        found = self._raw.pop(key, None) is not None
        return self._made.pop(key, None) is not None or found

    def to_json(self) -> Dict[str, Any]:
        return {k: self._dump(self._made[k]) if k in self._made else self._raw[k] for k in sorted(self)}


def _load_record(raw: dict) -> Tuple[Descriptor, str]:
    return Descriptor.from_json(raw["descriptor"]), str(raw["subject"])


def _load_reading(raw: dict) -> Tuple[str, dict]:
    return str(raw["with"]), dict(raw["reading"])


class RepoCache:
    def __init__(self, repo_name: str, root: str):
        key = hashlib.sha256(repo_name.encode("utf-8")).hexdigest()[:32]
        self.path = os.path.join(root, "repos", key + ".json")
        data: Dict[str, Any] = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            pass   # none yet, or damaged
        self.tags = Entries(data.get("tags"), Descriptor.from_json, Descriptor.to_json)
        self.records = Entries(data.get("records"), _load_record,
                               lambda r: {"descriptor": r[0].to_json(), "subject": r[1]})
        self.readings = Entries(data.get("readings"), _load_reading,
                                lambda r: {"with": r[0], "reading": r[1]})
        self.order: List[str] = []                          # version tags, oldest first
        self._api: Optional[Tuple[bool, float]] = None
        order = data.get("order")
        if isinstance(order, dict) and order.get("scheme") == ORDER_SCHEME \
                and isinstance(order.get("tags"), list) and all(isinstance(t, str) for t in order["tags"]):
            self.order = order["tags"]
        api = data.get("api")
        try:
            if api:
                self._api = (bool(api["supported"]), float(api["checked"]))
        except (KeyError, TypeError, ValueError):
            pass
        self._dirty = False

    def put_tag(self, tag: str, desc: Descriptor) -> None:
        if self.tags.put(tag, Descriptor(desc.media_type, desc.digest, desc.size)):
            self._dirty = True

    def forget_tag(self, tag: str) -> None:
        if self.tags.pop(tag):
            self._dirty = True

    def put_order(self, ascending: List[str]) -> None:
        """The version tags now, oldest first; what is remembered of tags that are gone goes."""
        if ascending == self.order:
            return
        self.order = ascending
        present = set(ascending)
        for tag in [t for t in self.tags if t not in present]:
            self.tags.pop(tag)
        self._dirty = True

    def put_record(self, digest: str, desc: Descriptor, subject: str) -> None:
        if digest not in self.records:
            self.records.put(digest, (desc, subject))
            self._dirty = True

    def put_reading(self, digest: str, read_with: str, reading: dict) -> None:
        if self.readings.put(digest, (read_with, reading)):
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
        data: Dict[str, Any] = {"tags": self.tags.to_json(), "records": self.records.to_json(),
                                "readings": self.readings.to_json()}
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
