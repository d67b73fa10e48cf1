"""Writing records: provenance, test results, rejection and restoration."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional, Sequence, Tuple

from ..core import record as rec
from ..core.dsse import Signer
from ..core.record import Record
from ..core.ref import Ref
from ..stores.base import Store
from .images import Image, attach, load


@dataclass
class Annotated:
    image: Image
    record: Record
    statement: dict
    counts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"image": self.image.pinned, "digest": self.image.digest, "record": self.record.to_json()}
        if self.counts:
            out["counts"] = self.counts
        return out


def _write(store: Store, ref: Ref, kind: str, predicate: dict, now: datetime, by: Optional[str],
           signer: Optional[Signer], image: Optional[Image] = None, **summary) -> Annotated:
    image = image or load(store, ref, now=now)
    new = rec.build(kind, image.descriptor, image.repo.name, predicate, now, by, signer=signer, **summary)
    return Annotated(image, attach(store, image, new), new.statement)


def provenance(*, store: Store, ref: Ref, now: datetime, by: Optional[str], git_url: Optional[str] = None,
               git_commit: Optional[str] = None, git_branch: Optional[str] = None,
               build_url: Optional[str] = None, job: Optional[str] = None,
               build_number: Optional[str] = None, builder: Optional[str] = None,
               base_image: Optional[str] = None, materials: Sequence[Tuple[str, str]] = (),
               signer: Optional[Signer] = None) -> Annotated:
    predicate = rec.provenance_predicate(git_url, git_commit, git_branch, build_url, job, build_number,
                                         builder, base_image, list(materials), now)
    return _write(store, ref, rec.PROVENANCE, predicate, now, by, signer, branch=git_branch)


def mark(*, store: Store, ref: Ref, now: datetime, by: Optional[str], suite: str, result: str,
         url: Optional[str] = None, configuration: Optional[str] = None, passed: Sequence[str] = (),
         failed: Sequence[str] = (), warned: Sequence[str] = (), counts: Optional[dict] = None,
         signer: Optional[Signer] = None) -> Annotated:
    rec.check_name("suite", suite)
    rec.check_text("url", url)
    predicate = rec.test_predicate(suite, result, url, list(passed), list(failed), list(warned), configuration)
    if counts:
        predicate["counts"] = counts
    out = _write(store, ref, rec.TEST, predicate, now, by, signer, suite=suite, result=result)
    out.counts = dict(counts or {})
    return out


def verdict(*, store: Store, ref: Ref, now: datetime, by: Optional[str], reject: bool, reason: str,
            signer: Optional[Signer] = None) -> Annotated:
    """Rejection (never eligible again) or restoration, which names the digests of the rejections
    standing now: it undoes exactly those, and a rejection written later still stands."""
    rec.check_text("reason", reason)
    predicate: dict = {"reason": reason, "by": by}
    image = load(store, ref, now=now)
    if not reject:
        predicate["restores"] = [r.digest for r in image.state.rejections]
    kind = rec.REJECTION if reject else rec.RESTORATION
    return _write(store, ref, kind, predicate, now, by, signer, image)
