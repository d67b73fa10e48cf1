"""What records say beyond their summary annotations: why an image was rejected, why a deployment
failed, whether a promotion was forced or a rollback. That lives in the record's payload, so it is
read only for the records a command shows (two requests each, remembered for the run)."""

from typing import Dict, List, Optional

from ..core.policy import rejection_reason
from ..core.record import Record
from ..core.ref import Ref
from ..errors import InputError, NotFoundError, RemoteError
from ..stores.base import Store
from .images import Image, statement


class Notes:
    def __init__(self, store: Store):
        self.store = store
        self._predicates: Dict[str, dict] = {}

    def predicate(self, repo: Ref, record: Record) -> dict:
        if record.digest not in self._predicates:
            try:
                found = statement(self.store, repo, record.digest).get("predicate")
            except (NotFoundError, RemoteError, InputError):
                found = None   # not written by shipmark or unreadable: shown without details
            self._predicates[record.digest] = found if isinstance(found, dict) else {}
        return self._predicates[record.digest]

    def reason(self, repo: Ref, record: Optional[Record]) -> Optional[str]:
        if record is None:
            return None
        why = self.predicate(repo, record).get("reason")
        return why if isinstance(why, str) and why else None

    def rejection(self, image: Image) -> Optional[str]:
        """"rejected by X at T: why", or None when no rejection stands."""
        state = image.state
        if not state.rejected:
            return None
        why = self.reason(image.repo, state.verdict)
        return rejection_reason(state) + (f": {why}" if why else "")

    def explain(self, image: Image, reasons: List[str]) -> List[str]:
        """The policy's reasons with the rejection's own reason added."""
        if not image.state.rejected:
            return list(reasons)
        short = rejection_reason(image.state)
        return [(self.rejection(image) or r) if r == short else r for r in reasons]

    def promotion_marks(self, repo: Ref, record: Record) -> List[str]:
        """"forced: why" and/or "rollback: why" for a promotion record."""
        pred = self.predicate(repo, record)
        why = pred.get("reason") if isinstance(pred.get("reason"), str) else None
        marks = []
        if pred.get("forced"):
            marks.append("forced" + (f": {why}" if why else ""))
        if pred.get("rollback"):
            marks.append("rollback" + (f": {why}" if why and not pred.get("forced") else ""))
        return marks
