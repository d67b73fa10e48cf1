"""Version tag -> descriptor, and record digest -> descriptor, remembered across runs.

Version tags are immutable in shipmark's model (`1.4.2-b123.20261128.abc1234` names one build
forever), so a scan need not HEAD every one of them each time: on Docker Registry 2.8 a
1,000-tag listing otherwise costs 1,000 requests. Only version tags are kept; channel tags move
and are always asked. `pick` checks the image it returns with one request, so a tag that was
pushed again anyway cannot send a stale digest to a deployment. Record descriptors (with their
summary annotations) are content-addressed, so keeping them in the same file saves a warm scan
from opening one cached manifest per record.
"""

import hashlib
import json
import os
import tempfile
from typing import Dict, Optional

from ..core.descriptor import Descriptor
from ..errors import ShipmarkError
from .cache import default_dir


class VersionTagCache:
    def __init__(self, repo_name: str, root: Optional[str] = None):
        key = hashlib.sha256(repo_name.encode("utf-8")).hexdigest()[:32]
        self.path = os.path.join(root or default_dir(), "tags", key + ".json")
        self.entries: Dict[str, Descriptor] = {}
        self.records: Dict[str, Descriptor] = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            self.entries = {t: Descriptor.from_json(d) for t, d in data.get("tags", {}).items()}
            self.records = {d: Descriptor.from_json(r) for d, r in data.get("records", {}).items()}
        except (OSError, ValueError, AttributeError, ShipmarkError):
            self.entries, self.records = {}, {}   # no cache yet, or a damaged one: start over
        self._saved = (len(self.entries), len(self.records))
        self._dirty = False

    def get(self, tag: str) -> Optional[Descriptor]:
        return self.entries.get(tag)

    def put(self, tag: str, desc: Descriptor) -> None:
        if self.entries.get(tag) != desc:
            self.entries[tag] = Descriptor(desc.media_type, desc.digest, desc.size)
            self._dirty = True

    def forget(self, tag: str) -> None:
        if self.entries.pop(tag, None) is not None:
            self._dirty = True

    def save(self, keep=None) -> None:
        """Best-effort atomic write; `keep` (the tags that still exist) drops deleted ones."""
        if keep is not None:
            gone = set(self.entries) - set(keep)
            for tag in gone:
                del self.entries[tag]
            self._dirty = self._dirty or bool(gone)
        if not self._dirty and self._saved == (len(self.entries), len(self.records)):
            return
        data = {"tags": {t: d.to_json() for t, d in sorted(self.entries.items())},
                "records": {r: d.to_json() for r, d in sorted(self.records.items())}}
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(self.path))
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)
            self._dirty = False
            self._saved = (len(self.entries), len(self.records))
        except OSError:
            pass
