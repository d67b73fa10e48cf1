"""Which records count: the payload is the evidence, annotations and index entries are hints.

A record counts when
- its manifest is a shipmark record whose `subject` is the image being read,
- its layer is an in-toto Statement, or a DSSE envelope of one, naming that image as subject,
- the summary annotations on the manifest agree with the payload (the kind with the
  predicate type; every summary key with the summary signed inside the Statement, or for
  records written before that existed, the test result with the predicate's),
- it is not dated more than FUTURE_SKEW after the reader's clock,
- every summary value, and the predicate values shipmark uses (a deployment's tag), is whole and
  of its own format (core.record.summary_problem): a name holds no newline, a digest is one,
- and, when the policy names `signers`, a key that `trust` allows for its kind (and suite)
  signed the envelope (a rejection counts whoever wrote it unless `trust.rejection` says).
Everything else is reported with the reason, never counted.
"""

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, Mapping, Optional, Set, Tuple

from . import dsse
from . import mediatype as mt
from .dsse import Verifier
from .policy import Policy
from .record import (
    PREDICATE_TYPES,
    RESTORATION,
    SUMMARY_KEYS,
    TEST,
    Record,
    parse_time,
    predicate_problem,
    summary_problem,
)

# Records dated later than this past the reader's clock are ignored: a clock cannot win by lying.
FUTURE_SKEW = timedelta(minutes=10)
# What read_record checks, as a name readings are kept under: a reading kept by a shipmark that
# checked less (before names and tags were checked in full: rules 1) is read again.
READING_RULES = "rules=2"
_KIND_OF = {v: k for k, v in PREDICATE_TYPES.items()}


@dataclass(frozen=True)
class Untrusted:
    """A record that does not count, and why."""

    digest: str
    why: str
    kind: Optional[str] = None
    created: Optional[str] = None

    def to_json(self) -> dict:
        out = {"digest": self.digest, "kind": self.kind, "created": self.created, "trusted": False,
               "why": self.why}
        return {k: v for k, v in out.items() if v is not None}


def is_record(manifest: Mapping) -> bool:
    """A shipmark record by its own claim; other referrers (signatures, SBOMs) are no business
    of the fold and are neither counted nor reported."""
    return manifest.get("artifactType") == mt.RECORD_ARTIFACT


def check_record(digest: str, manifest: Mapping, layer_media_type: Optional[str], payload: bytes,
                 subject_digest: str, policy: Optional[Policy], now: datetime
                 ) -> Tuple[Optional[Record], Optional[str]]:
    """(record, None) when it counts, (None, why) when it does not."""
    signers = policy.signers if policy is not None else {}
    return admit(read_record(digest, manifest, layer_media_type, payload, subject_digest, signers),
                 policy, now)


@dataclass(frozen=True)
class Reading:
    """What a record's bytes say, checked against each other, the image and the given keys.
    It depends on nothing else (not the clock, not whom the policy trusts for what), so it can
    be kept by (record digest, subject digest, keys) and the bytes need not be read again."""

    record: Optional[Record]
    why: Optional[str] = None
    signatures: int = 0
    signed_summary: bool = False

    def to_json(self) -> dict:
        out: dict = {"signatures": self.signatures, "signed_summary": self.signed_summary}
        if self.record is not None:
            out["record"] = {k: list(v) if isinstance(v, tuple) else v
                             for k, v in dataclasses.asdict(self.record).items()}
        if self.why is not None:
            out["why"] = self.why
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> "Reading":
        """Raises (KeyError, TypeError, ValueError) on anything that was not written by to_json."""
        raw = data.get("record")
        record = None
        if raw is not None:
            fields: Dict[str, Any] = {k: tuple(v) if k in ("restores", "signers") else v for k, v in raw.items()}
            record = Record(**fields)
        why = data.get("why")
        if (record is None) == (why is None) or not isinstance(data["signatures"], int):
            raise ValueError("a reading has a record or a reason")
        return cls(record, why, data["signatures"], bool(data["signed_summary"]))


def keys_id(signers: Mapping[str, Verifier]) -> str:
    """Which keys a Reading was made with: signer names and key ids."""
    return ",".join(f"{name}={key.keyid}" for name, key in sorted(signers.items()))


def read_record(digest: str, manifest: Mapping, layer_media_type: Optional[str], payload: bytes,
                subject_digest: str, signers: Mapping[str, Verifier]) -> Reading:
    annotations = manifest.get("annotations")
    if not isinstance(annotations, Mapping):
        return Reading(None, "record manifest has no annotations")
    subject: Mapping[str, Any] = manifest["subject"] if isinstance(manifest.get("subject"), Mapping) else {}
    if subject.get("digest") != subject_digest:
        return Reading(None, f"record manifest's subject is {subject.get('digest')}, not this image")
    signed_by: Set[str] = set()
    signatures = 0
    if layer_media_type == mt.DSSE_ENVELOPE:
        try:
            envelope = dsse.parse(payload)
        except ValueError as exc:
            return Reading(None, str(exc))
        if envelope.payload_type != mt.IN_TOTO:
            return Reading(None, f"envelope payloadType is {envelope.payload_type!r}, not {mt.IN_TOTO}")
        signatures = len(envelope.signatures)
        if signers:
            signed_by = envelope.signed_by(signers)
        payload = envelope.payload
    elif layer_media_type != mt.IN_TOTO:
        return Reading(None, f"payload media type {layer_media_type!r} is neither {mt.IN_TOTO} "
                             f"nor {mt.DSSE_ENVELOPE}")
    statement: Any = _json(payload)
    if not isinstance(statement, dict) or statement.get("_type") != mt.STATEMENT_V1:
        return Reading(None, "payload is not an in-toto Statement v1")
    entry = _subject_entry(statement.get("subject"), subject_digest)
    if entry is None:
        return Reading(None, "the Statement does not name this image as its subject")
    kind = _KIND_OF.get(str(statement.get("predicateType")))
    if kind is None:
        return Reading(None, f"unknown predicateType {statement.get('predicateType')!r}")
    if annotations.get(mt.A_KIND) != kind:
        return Reading(None, f"annotation says kind {annotations.get(mt.A_KIND)!r}, the payload is a {kind}")
    predicate: Mapping[str, Any] = statement["predicate"] if isinstance(statement.get("predicate"), dict) else {}
    summary: Any = entry.get("annotations")
    signed_summary = isinstance(summary, Mapping)
    if signed_summary:
        for key in SUMMARY_KEYS:
            if annotations.get(key) != summary.get(key):
                return Reading(None, f"annotation {key} says {annotations.get(key)!r}, "
                                     f"the payload says {summary.get(key)!r}")
    else:
        summary = annotations   # written before summaries were signed: check what the predicate says
    if kind == TEST:
        said = predicate.get("result")
        if not isinstance(said, str) or said.lower() != summary.get(mt.A_RESULT):
            return Reading(None, f"annotation says result {summary.get(mt.A_RESULT)!r}, "
                                 f"the payload says {said!r}")
    created = parse_time(summary.get(mt.A_CREATED, ""))
    if created is None or created.tzinfo is None:
        return Reading(None, "no valid created time")
    problem = summary_problem(kind, summary) or predicate_problem(kind, predicate)
    if problem is not None:
        return Reading(None, problem)
    restores: Tuple[str, ...] = ()
    if kind == RESTORATION:
        restores = tuple(predicate.get("restores") or ())
    record = Record.from_summary(digest, summary, restores, sorted(signed_by))
    return Reading(record, None, signatures, signed_summary)


def admit(reading: Reading, policy: Optional[Policy], now: datetime) -> Tuple[Optional[Record], Optional[str]]:
    """Whether a record that reads well counts for this reader: not dated in its future, and
    signed by a key the policy trusts for its kind when the policy names signers."""
    record = reading.record
    if record is None:
        return None, reading.why
    created = parse_time(record.created)
    if created is None or created > now + FUTURE_SKEW:
        return None, (f"dated {record.created}, more than "
                      f"{int(FUTURE_SKEW.total_seconds() // 60)} minutes after this reader's clock")
    allowed = policy.trusted_for(record.kind, record.suite) if policy is not None else None
    if allowed is not None and not set(record.signers) & set(allowed):
        return None, _untrusted_why(record, allowed, set(record.signers), reading.signatures)
    if allowed is not None and not reading.signed_summary:
        return None, "the signed Statement carries no summary (written by an older shipmark): its date is unsigned"
    return record, None


def _untrusted_why(record: Record, allowed: Tuple[str, ...], signed_by: Set[str], signatures: int) -> str:
    what = f"{record.kind} {record.suite!r}" if record.suite else record.kind
    wanted = ", ".join(allowed) or "nobody (no `trust` entry)"
    if signed_by:
        return f"signed by {', '.join(sorted(signed_by))}, but the policy trusts {wanted} for {what}"
    if signatures:
        return f"signature does not verify with any key the policy trusts for {what} ({wanted})"
    return f"unsigned; the policy trusts {wanted} for {what}"


def _subject_entry(subjects: Any, subject_digest: str) -> Optional[Mapping]:
    algo, _, hexpart = subject_digest.partition(":")
    if not isinstance(subjects, list):
        return None
    for entry in subjects:
        if isinstance(entry, Mapping) and isinstance(entry.get("digest"), Mapping) \
                and entry["digest"].get(algo) == hexpart:
            return entry
    return None


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
