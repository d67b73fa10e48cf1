"""core.trust: which records count, and why the others do not."""

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from shipmark import keys
from shipmark.core import dsse
from shipmark.core import mediatype as mt
from shipmark.core.descriptor import Descriptor, artifact_manifest
from shipmark.core.policy import Policy
from shipmark.core import record as rec
from shipmark.core.trust import check_record
from shipmark.errors import InputError

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
IMAGE = Descriptor(mt.OCI_MANIFEST, "sha256:" + "ab" * 32, 100)
OTHER = Descriptor(mt.OCI_MANIFEST, "sha256:" + "cd" * 32, 100)
CI, QA, STRANGER = keys.generate("ecdsa"), keys.generate("ed25519"), keys.generate("ecdsa")


def policy(trust=None, signers=("ci", "qa")):
    pems = {"ci": CI.public.pem().decode(), "qa": QA.public.pem().decode()}
    data = {"channels": {"stable": {}}}
    if signers:
        data["signers"] = {n: pems[n] for n in signers}
        data["trust"] = trust if trust is not None else {
            "provenance": ["ci"], "test": {"unit": ["ci"], "acceptance": ["qa"]}, "promotion": ["ci"],
            "restoration": ["qa"]}
    return Policy.from_dict(data, "p.yaml", load_key=lambda v: keys.parse_public(v.encode(), "key"))


def make_record(suite="unit", result="passed", signer=None, created=NOW - timedelta(hours=1), subject=IMAGE,
                kind="test"):
    pred = rec.test_predicate(suite, result, None, [], [], [], None) if kind == "test" else {"reason": "x"}
    return rec.build(kind, subject, "reg/app", pred, created, "ci", suite=suite if kind == "test" else None,
                 result=result if kind == "test" else None, signer=signer)


def check(new, pol=None, subject=IMAGE, manifest=None, payload=None, now=NOW):
    manifest = manifest if manifest is not None else new.manifest.data
    layer = manifest["layers"][0]
    payload = payload if payload is not None else new.blobs[layer["digest"]]
    return check_record(new.manifest.digest, manifest, layer["mediaType"], payload, subject.digest, pol, now)


def test_signed_record_counts_for_the_signer_the_policy_trusts():
    record, why = check(make_record(signer=CI), policy())
    assert why is None and record.suite == "unit" and record.result == "passed" and record.signers == ("ci",)


def test_unsigned_record_counts_without_signers_and_not_with_them():
    assert check(make_record(), None)[0] is not None
    assert check(make_record(), policy(signers=()))[0] is not None
    record, why = check(make_record(), policy())
    assert record is None and why == "unsigned; the policy trusts ci for test 'unit'"


def test_key_not_trusted_for_that_suite_is_ignored():
    record, why = check(make_record(suite="acceptance", signer=CI), policy())
    assert record is None and why == "signed by ci, but the policy trusts qa for test 'acceptance'"


def test_wrong_key_is_ignored():
    record, why = check(make_record(signer=STRANGER), policy())
    assert record is None and why == "signature does not verify with any key the policy trusts for test 'unit' (ci)"


def test_tampered_envelope_is_ignored():
    new = make_record(result="failed", signer=CI)
    env = json.loads(new.blobs[new.manifest.data["layers"][0]["digest"]])
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["predicate"]["result"] = "PASSED"
    statement["subject"][0]["annotations"][mt.A_RESULT] = "passed"
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    manifest = dict(new.manifest.data, annotations=dict(new.manifest.data["annotations"], **{mt.A_RESULT: "passed"}))
    record, why = check(new, policy(), manifest=manifest, payload=json.dumps(env).encode())
    assert record is None and why.startswith("signature does not verify")


def test_subject_mismatch_in_manifest_or_statement_is_ignored():
    record, why = check(make_record(subject=OTHER), None, subject=IMAGE)
    assert record is None and why == f"record manifest's subject is {OTHER.digest}, not this image"
    # A record of image X whose manifest was re-pointed at Y: the Statement still names X.
    other = make_record(subject=OTHER)
    manifest = dict(other.manifest.data, subject=IMAGE.to_json())
    record, why = check(other, None, manifest=manifest)
    assert record is None and why == "the Statement does not name this image as its subject"


def test_annotation_that_disagrees_with_the_payload_is_ignored():
    new = make_record(result="failed")
    manifest = dict(new.manifest.data, annotations=dict(new.manifest.data["annotations"], **{mt.A_RESULT: "passed"}))
    record, why = check(new, None, manifest=manifest)
    assert record is None and why == f"annotation {mt.A_RESULT} says 'passed', the payload says 'failed'"
    manifest = dict(new.manifest.data, annotations=dict(new.manifest.data["annotations"], **{mt.A_KIND: "promotion"}))
    assert check(new, None, manifest=manifest)[1] == "annotation says kind 'promotion', the payload is a test"


def test_record_written_before_signed_summaries_is_checked_against_its_predicate():
    new = make_record(result="failed")
    statement = json.loads(new.blobs[new.manifest.data["layers"][0]["digest"]])
    del statement["subject"][0]["annotations"]
    old = json.dumps(statement).encode()
    assert check(new, None, payload=old)[0].result == "failed"
    manifest = dict(new.manifest.data, annotations=dict(new.manifest.data["annotations"], **{mt.A_RESULT: "passed"}))
    assert check(new, None, manifest=manifest, payload=old)[1] == "annotation says result 'passed', the payload says 'FAILED'"


def test_record_dated_in_the_future_is_ignored_within_skew_it_counts():
    assert check(make_record(created=NOW + timedelta(minutes=9)), None)[0] is not None
    record, why = check(make_record(created=NOW + timedelta(minutes=11)), None)
    assert record is None and "more than 10 minutes after this reader's clock" in why


def test_rejection_counts_unsigned_unless_trust_names_rejection_signers():
    rejection = make_record(kind="rejection")
    assert check(rejection, policy())[0] is not None
    strict = policy(trust={"rejection": ["qa"]})
    assert check(rejection, strict)[1] == "unsigned; the policy trusts qa for rejection"
    assert check(make_record(kind="rejection", signer=QA), strict)[0] is not None


def test_kind_missing_from_trust_counts_for_nobody():
    record, why = check(make_record(kind="deployment", signer=CI), policy(trust={"test": ["ci"]}))
    assert record is None and why == "signed by ci, but the policy trusts nobody (no `trust` entry) for deployment"


def test_policy_names_the_path_of_unknown_signers_and_bad_keys():
    with pytest.raises(InputError, match=r"p.yaml: trust.test.unit: unknown signer 'nobody' \(signers: ci, qa\)"):
        policy(trust={"test": {"unit": ["nobody"]}})
    with pytest.raises(InputError, match="p.yaml: signers.ci: key is not a PEM public key"):
        Policy.from_dict({"channels": {"s": {}}, "signers": {"ci": "garbage"}}, "p.yaml",
                         load_key=lambda v: keys.parse_public(v.encode(), "key"))


def test_envelope_verifies_with_securesystemslib():
    """An implementation that is not shipmark's: securesystemslib's DSSE verifier."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    for key, scheme in ((CI, "ecdsa-sha2-nistp256"), (QA, "ed25519")):
        new = make_record(signer=key)
        raw = new.blobs[new.manifest.data["layers"][0]["digest"]]
        public = SSlibKey.from_crypto(load_pem_public_key(key.public.pem()), keyid=key.keyid, scheme=scheme)
        envelope = Envelope.from_dict(json.loads(raw))   # (from_dict rewrites the dict it is given)
        assert list(envelope.verify([public], 1)) == [key.keyid]
        assert envelope.pae() == dsse.pae(mt.IN_TOTO, base64.b64decode(json.loads(raw)["payload"]))


# -- values a forged record carries -----------------------------------------------------------------

def forged(kind, summary, predicate):
    """An unsigned record made by hand, as anyone with push rights can write one."""
    notes = {mt.A_CREATED: rec.format_time(NOW - timedelta(hours=1)), mt.A_KIND: kind, **summary}
    statement = {"_type": mt.STATEMENT_V1, "predicateType": rec.PREDICATE_TYPES[kind], "predicate": predicate,
                 "subject": [{"name": "reg/app", "digest": {"sha256": IMAGE.digest[7:]}, "annotations": notes}]}
    payload = json.dumps(statement).encode()
    manifest, _ = artifact_manifest(mt.RECORD_ARTIFACT, payload, mt.IN_TOTO, rec.PAYLOAD_FILE, notes, IMAGE)
    return check_record(manifest.digest, manifest.data, mt.IN_TOTO, payload, IMAGE.digest, None, NOW)


DIGEST = "sha256:" + "ef" * 32


@pytest.mark.parametrize("kind, summary, predicate, why", [
    ("test", {mt.A_SUITE: "unit\nacceptance", mt.A_RESULT: "passed"}, {"result": "PASSED"},
     "summary dev.shipmark.suite is 'unit\\nacceptance', not a name"),
    ("test", {mt.A_SUITE: ["unit"], mt.A_RESULT: "passed"}, {"result": "PASSED"},
     "summary dev.shipmark.suite is not a string"),
    ("promotion", {mt.A_CHANNEL: "stable\x1b[0m"}, {}, "summary dev.shipmark.channel is 'stable\\x1b[0m', not a name"),
    ("promotion", {mt.A_CHANNEL: "stable", mt.A_PREVIOUS: DIGEST + "\n"}, {},
     f"summary dev.shipmark.previous is '{DIGEST}\\n', not a digest or 'none'"),
    ("promotion", {mt.A_CHANNEL: "stable", mt.A_POLICY: DIGEST + "$(id)"}, {},
     f"summary dev.shipmark.policy is '{DIGEST}$(id)', not a digest, 'none' or 'unknown'"),
    ("provenance", {mt.A_BRANCH: "master\u202e"}, {},
     "summary dev.shipmark.branch is 'master\\u202e', not a branch name"),
    ("deployment", {mt.A_TARGET: "prod\n", mt.A_RESULT: "succeeded"}, {},
     "summary dev.shipmark.target is 'prod\\n', not a name"),
    ("deployment", {mt.A_TARGET: "prod", mt.A_RESULT: "passed"}, {},
     "summary dev.shipmark.result is 'passed', not one of succeeded, failed"),
    ("deployment", {mt.A_TARGET: "prod", mt.A_RESULT: "succeeded"}, {"tag": "1.0\nevil: {image: x}"},
     "deployment tag '1.0\\nevil: {image: x}' is not a tag"),
    ("deployment", {mt.A_TARGET: "prod", mt.A_RESULT: "succeeded"}, {"tag": ["1.0"]},
     "deployment tag ['1.0'] is not a tag"),
    ("restoration", {}, {"restores": [DIGEST + "\n"]}, "restores is not a list of digests"),
])
def test_a_forged_value_out_of_its_format_does_not_count(kind, summary, predicate, why):
    assert forged(kind, summary, predicate) == (None, why)


def test_free_text_counts_as_written():
    """`by` is free text (shown escaped); names and tags in their format count."""
    record, why = forged("deployment", {mt.A_TARGET: "prod", mt.A_RESULT: "succeeded", mt.A_PREVIOUS: "none",
                                        mt.A_BY: "ci\x1b[2J\u202e"}, {"tag": "1.0.0-b1.20261101.abc1234"})
    assert why is None and record.by == "ci\x1b[2J\u202e" and record.target == "prod"


@pytest.mark.parametrize("summary, predicate", [({"branch": "feature x"}, {}), ({"target": "prod"}, {"tag": "1.0\n"})])
def test_shipmark_writes_no_record_that_readers_would_not_count(summary, predicate):
    kind = "deployment" if "target" in summary else "provenance"
    with pytest.raises(InputError) as err:
        rec.build(kind, IMAGE, "reg/app", predicate, NOW, "ci", **summary)
    assert err.value.message.startswith(f"{kind} record not written: ")
