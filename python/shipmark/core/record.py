"""Records: what happened to an image, as OCI artifacts whose `subject` is the image.

One record per event, append-only. The payload is an in-toto Statement v1, or a DSSE envelope
of it when signed. The summary (kind, created, suite, result, channel, ...) is written twice:
as the record manifest's annotations, a hint other OCI tools can list, and as the annotations
of the Statement's subject, where a signature covers it. Readers believe only the second
(core.trust checks that the two agree).
"""

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import InputError
from . import dsse, text
from . import mediatype as mt
from .descriptor import Descriptor, Manifest, artifact_manifest, canonical_json
from .ref import DIGEST_RE, TAG_RE

PROVENANCE, TEST, PROMOTION, REJECTION, RESTORATION, DEPLOYMENT = (
    "provenance", "test", "promotion", "rejection", "restoration", "deployment")
KINDS = (PROVENANCE, TEST, PROMOTION, REJECTION, RESTORATION, DEPLOYMENT)
RESULTS = ("passed", "failed", "warned")
DEPLOY_RESULTS = ("succeeded", "failed")   # the result of a deployment record
PREDICATE_TYPES = {
    PROVENANCE: mt.PRED_SLSA_PROVENANCE,
    TEST: mt.PRED_TEST_RESULT,
    PROMOTION: mt.PRED_PROMOTION,
    REJECTION: mt.PRED_REJECTION,
    RESTORATION: mt.PRED_RESTORATION,
    DEPLOYMENT: mt.PRED_DEPLOYMENT,
}
# Summary keys, in the manifest's annotations and in the Statement's subject annotations.
SUMMARY_KEYS = (mt.A_CREATED, mt.A_KIND, mt.A_BY, mt.A_SUITE, mt.A_RESULT, mt.A_CHANNEL, mt.A_TARGET,
                mt.A_BRANCH, mt.A_PREVIOUS, mt.A_POLICY)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}\Z")
MAX_TEXT = 4000
PAYLOAD_FILE = "statement.intoto.json"   # the layer's title: what `oras pull` writes
SIGNED_PAYLOAD_FILE = "statement.dsse.json"
BUILD_TYPE = "https://shipmark.dev/jenkins-build/v1"
UNKNOWN_BUILDER = "https://shipmark.dev/builders/unrecorded"
# DigestSet algorithms whose hex length the in-toto validators check.
_HEX_LENGTHS = {"sha1": 40, "gitCommit": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with milliseconds, so records made in the same second still order."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{when.astimezone(timezone.utc).microsecond // 1000:03d}Z"


def parse_time(text: str) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def check_name(what: str, value: str) -> str:
    """Suite, channel and target names go into annotations and tags: keep them plain."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise InputError(f"invalid {what} {value!r}",
                         f"a {what} name is 1-100 letters, digits and _ . : / - starting with a letter or digit")
    return value


def check_text(what: str, value: Optional[str]) -> Optional[str]:
    """Free text (reasons, URLs) is stored as data; only its length is limited."""
    if value is not None and len(value) > MAX_TEXT:
        raise InputError(f"{what} is {len(value)} characters long", f"keep it under {MAX_TEXT} characters")
    return value


# What a summary value read from a registry must be, whole, before it counts. Names and digests
# end up in tags, deploy files and terminals, so they match their format in full; `by` is free
# text (a build URL or a user), shown escaped. build() checks what it writes the same way.
# git allows no space or control. A pattern `re` compiles on first use (most of a millisecond):
# commands that take their records from the cache check no branch.
_BRANCH = rf"[^ {text.C0}{text.NOT_C0}]{{1,255}}\Z"
_SUMMARY_FORMATS: Dict[str, Tuple[str, Callable[[str], object]]] = {
    mt.A_SUITE: ("a name", _NAME_RE.match),
    mt.A_CHANNEL: ("a name", _NAME_RE.match),
    mt.A_TARGET: ("a name", _NAME_RE.match),
    mt.A_BRANCH: ("a branch name", lambda v: re.match(_BRANCH, v)),
    mt.A_PREVIOUS: ("a digest or 'none'", lambda v: v == "none" or DIGEST_RE.match(v)),
    mt.A_POLICY: ("a digest, 'none' or 'unknown'", lambda v: v in ("none", "unknown") or DIGEST_RE.match(v)),
}


def summary_problem(kind: str, summary: Mapping) -> Optional[str]:
    """Why a record's summary cannot count as written (a forged or damaged record), or None."""
    for key in SUMMARY_KEYS:
        value = summary.get(key)
        if value is not None and not isinstance(value, str):
            return f"summary {key} is not a string"
    allowed = DEPLOY_RESULTS if kind == DEPLOYMENT else RESULTS
    if summary.get(mt.A_RESULT) is not None and summary[mt.A_RESULT] not in allowed:
        return f"summary {mt.A_RESULT} is {summary[mt.A_RESULT]!r}, not one of {', '.join(allowed)}"
    for key, (what, fits) in _SUMMARY_FORMATS.items():
        value = summary.get(key)
        if value is not None and not fits(value):
            return f"summary {key} is {_shown(value)}, not {what}"
    return None


def predicate_problem(kind: str, predicate: Mapping) -> Optional[str]:
    """Why a predicate's values that shipmark uses cannot count, or None: the tag of a deployment
    goes into the deploy files `deployed --rollback` renders; a restoration's `restores` are digests."""
    if kind == DEPLOYMENT:
        tag = predicate.get("tag")
        if tag is not None and not (isinstance(tag, str) and TAG_RE.match(tag)):
            return f"deployment tag {_shown(tag)} is not a tag"
    if kind == RESTORATION:
        named = predicate.get("restores")
        if named is not None and not (isinstance(named, list)
                                      and all(isinstance(d, str) and DIGEST_RE.match(d) for d in named)):
            return "restores is not a list of digests"
    return None


def _shown(value: object) -> str:
    """A value quoted for a reason, shortened: the reason is for people, the record keeps it all."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


@dataclass(frozen=True)
class Record:
    """A record: its digest and its summary. Records that count are built by core.trust from
    the checked payload; `from_descriptor` reads the unchecked hint of a listing."""

    digest: str
    kind: str
    created: str
    by: Optional[str] = None
    suite: Optional[str] = None
    result: Optional[str] = None
    channel: Optional[str] = None
    target: Optional[str] = None
    branch: Optional[str] = None
    previous: Optional[str] = None
    policy: Optional[str] = None                 # promotions: digest of the policy applied
    restores: Tuple[str, ...] = ()               # restorations: the rejections they undo
    signers: Tuple[str, ...] = ()                # policy signer names whose key signed it

    @property
    def order(self) -> Tuple[str, str]:
        """Newest is largest: by created time, ties broken by digest."""
        created = parse_time(self.created)
        return (format_time(created) if created else "", self.digest)

    @classmethod
    def from_descriptor(cls, desc: Descriptor) -> Optional["Record"]:
        """None for referrers that are not shipmark records (signatures, SBOMs)."""
        a = desc.annotations or {}
        # Descriptors come from the record manifests themselves (stores/discovery.py), never
        # from a registry's listing, so artifactType is the record's own.
        if desc.artifact_type != mt.RECORD_ARTIFACT or a.get(mt.A_KIND) not in KINDS:
            return None
        return cls(digest=desc.digest, kind=a[mt.A_KIND], created=a.get(mt.A_CREATED, ""),
                   by=a.get(mt.A_BY), suite=a.get(mt.A_SUITE), result=a.get(mt.A_RESULT),
                   channel=a.get(mt.A_CHANNEL), target=a.get(mt.A_TARGET), branch=a.get(mt.A_BRANCH),
                   previous=a.get(mt.A_PREVIOUS), policy=a.get(mt.A_POLICY))

    @classmethod
    def from_summary(cls, digest: str, a: Mapping[str, str], restores: Sequence[str] = (),
                     signers: Sequence[str] = ()) -> "Record":
        return cls(digest=digest, kind=a[mt.A_KIND], created=a.get(mt.A_CREATED, ""),
                   by=a.get(mt.A_BY), suite=a.get(mt.A_SUITE), result=a.get(mt.A_RESULT),
                   channel=a.get(mt.A_CHANNEL), target=a.get(mt.A_TARGET), branch=a.get(mt.A_BRANCH),
                   previous=a.get(mt.A_PREVIOUS), policy=a.get(mt.A_POLICY), restores=tuple(restores),
                   signers=tuple(sorted(signers)))

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if v is not None and v != ()}
        out["trusted"] = True
        return out


@dataclass(frozen=True)
class NewRecord:
    manifest: Manifest
    blobs: Dict[str, bytes]
    statement: dict

    @property
    def descriptor(self) -> Descriptor:
        return self.manifest.descriptor()


def build(kind: str, subject: Descriptor, subject_name: str, predicate: Mapping, created: datetime,
          by: Optional[str], suite: Optional[str] = None, result: Optional[str] = None,
          channel: Optional[str] = None, target: Optional[str] = None,
          branch: Optional[str] = None, previous: Optional[str] = None, policy: Optional[str] = None,
          signer: Optional[dsse.Signer] = None) -> NewRecord:
    """The record manifest and its blobs, ready to attach to `subject`; a DSSE envelope signed
    by `signer` when one is given, else the bare Statement (as before signing existed)."""
    if kind not in KINDS:
        raise InputError(f"unknown record kind {kind!r}", f"use one of: {', '.join(KINDS)}")
    allowed = DEPLOY_RESULTS if kind == DEPLOYMENT else RESULTS
    if result is not None and result not in allowed:
        raise InputError(f"invalid result {result!r}", f"use one of: {', '.join(allowed)}")
    annotations = {mt.A_CREATED: format_time(created), mt.A_KIND: kind}
    for key, value in ((mt.A_BY, by), (mt.A_SUITE, suite), (mt.A_RESULT, result),
                       (mt.A_CHANNEL, channel), (mt.A_TARGET, target), (mt.A_BRANCH, branch),
                       (mt.A_PREVIOUS, previous), (mt.A_POLICY, policy)):
        if value:
            annotations[key] = value
    problem = summary_problem(kind, annotations) or predicate_problem(kind, predicate)
    if problem is not None:
        raise InputError(f"{kind} record not written: {problem}", "readers would not count it; fix the value")
    statement = {
        "_type": mt.STATEMENT_V1,
        "subject": [{"name": subject_name, "digest": {"sha256": subject.digest.split(":", 1)[1]},
                     "annotations": dict(annotations)}],
        "predicateType": PREDICATE_TYPES[kind],
        "predicate": dict(predicate),
    }
    payload = canonical_json(statement)
    layer_type = mt.IN_TOTO
    if signer is not None:
        payload, layer_type = dsse.sign(mt.IN_TOTO, payload, [signer]).to_bytes(), mt.DSSE_ENVELOPE
    manifest, blobs = artifact_manifest(mt.RECORD_ARTIFACT, payload, layer_type,
                                        PAYLOAD_FILE if signer is None else SIGNED_PAYLOAD_FILE,
                                        annotations, subject)
    return NewRecord(manifest, blobs, statement)


def test_predicate(suite: str, result: str, url: Optional[str], passed: List[str], failed: List[str],
                   warned: List[str], configuration: Optional[str]) -> dict:
    """in-toto test-result v0.1. `configuration` is required there, and a ResourceDescriptor
    needs a uri, digest or content: the test run's URL, else the configuration inline."""
    config: Dict[str, str] = {"name": configuration or suite}
    if url:
        config["uri"] = url
    else:
        text = f"suite: {suite}\n" + (f"configuration: {configuration}\n" if configuration else "")
        config["content"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    pred = {
        "result": result.upper(),
        "configuration": [config],
        "passedTests": passed,
        "warnedTests": warned,
        "failedTests": failed,
    }
    if url:
        pred["url"] = url
    return pred


def provenance_predicate(git_url: Optional[str], git_commit: Optional[str], git_branch: Optional[str],
                         build_url: Optional[str], job: Optional[str], build_number: Optional[str],
                         builder: Optional[str], base_image: Optional[str], materials: List[Tuple[str, str]],
                         started: datetime) -> dict:
    """SLSA provenance v1 for a Jenkins build. Shaped to pass the in-toto attestation validators:
    externalParameters is never empty, a DigestSet holds only full hex digests (a short commit
    is kept as the revision), the builder id is a URI."""
    deps = []
    if git_url or git_commit:
        dep: Dict[str, object] = {"uri": f"git+{git_url}" if git_url else "git"}
        if git_commit and _is_full_hex("gitCommit", git_commit):
            dep["digest"] = {"gitCommit": git_commit.lower()}
        elif git_commit:
            dep["annotations"] = {"revision": git_commit}
        deps.append(dep)
    if base_image:
        deps.append({"uri": base_image, "annotations": {"role": "base-image"}})
    for uri, digest in materials:
        algo, _, hexpart = digest.partition(":")
        if not _is_full_hex(algo, hexpart):
            raise InputError(f"material {uri}: {digest!r} is not a full {algo or 'sha256'} digest",
                             "write ALGORITHM:HEX, e.g. sha256: followed by 64 hex digits")
        deps.append({"uri": uri, "digest": {algo: hexpart.lower()}})
    external = {k: v for k, v in (("repository", git_url), ("ref", git_branch), ("revision", git_commit)) if v}
    internal = {k: v for k, v in (("job", job), ("buildNumber", build_number)) if v}
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external or {"source": "not recorded"},
            "internalParameters": internal,
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": builder or build_url or UNKNOWN_BUILDER},
            "metadata": {k: v for k, v in (("invocationId", build_url),
                                           ("startedOn", format_time(started))) if v},
        },
    }


def _is_full_hex(algo: str, hexpart: str) -> bool:
    """Known algorithms need their full length in hex; others only hex (the validators' rule)."""
    if not hexpart or not re.fullmatch(r"[0-9a-fA-F]+", hexpart):
        return False
    return len(hexpart) == _HEX_LENGTHS.get(algo, len(hexpart))


def build_of(statement: Mapping) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(build URL, commit, branch) from a provenance statement: the reverse of provenance_predicate."""
    pred = statement.get("predicate") or {}
    run = (pred.get("runDetails") or {}).get("metadata") or {}
    external = (pred.get("buildDefinition") or {}).get("externalParameters") or {}
    return run.get("invocationId"), external.get("revision"), external.get("ref")
