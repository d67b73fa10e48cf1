"""An attacker with push rights, using raw HTTP and no shipmark code, on Docker Registry 2.8 and on
the referrers-API registry: forged records leave pick, promote, plan and status giving the
answers they gave without the forgery, and every forged record is reported as untrusted."""

import base64
import hashlib
import json
from datetime import datetime, timezone

import pytest
import requests

from shipmark.ops.demo import push_sample_image

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
PREDICATES = {"provenance": "https://slsa.dev/provenance/v1", "test": "https://in-toto.io/attestation/test-result/v0.1",
              "promotion": "https://shipmark.dev/promotion/v1", "rejection": "https://shipmark.dev/rejection/v1",
              "restoration": "https://shipmark.dev/restoration/v1"}

POLICY = """\
signers: {ci: ci.pub, qa: qa.pub}
trust:
  provenance: [ci]
  test: {unit: [ci], acceptance: [qa]}
  promotion: [ci]
  restoration: [qa]
channels:
  testing: {require: [unit]}
  stable:  {require: [acceptance], after: testing, branches: [master]}
"""


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Attacker:
    """Pushes hand-made record manifests with plain `requests`, as anyone with push rights can."""

    def __init__(self, case):
        self.base = f"http://{case.server.host}/v2/{case.repo.repository}"
        # An image's records are the manifests named by a per-record tag (stores/discovery.py),
        # on every registry: the attacker makes those tags too.
        self.per_record_tags = True

    def blob(self, data: bytes) -> str:
        digest = digest_of(data)
        start = requests.post(f"{self.base}/blobs/uploads/", timeout=10)
        start.raise_for_status()
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.base.split("/v2/")[0] + location
        sep = "&" if "?" in location else "?"
        requests.put(f"{location}{sep}digest={digest}", data=data, timeout=10,
                     headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        return digest

    def manifest(self, doc, tag=None) -> str:
        raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        digest = digest_of(raw)
        requests.put(f"{self.base}/manifests/{tag or digest}", data=raw, timeout=10,
                     headers={"Content-Type": OCI_MANIFEST}).raise_for_status()
        return digest

    def head(self, tag: str) -> dict:
        resp = requests.head(f"{self.base}/manifests/{tag}", timeout=10, headers={"Accept": OCI_MANIFEST})
        resp.raise_for_status()
        return {"mediaType": OCI_MANIFEST, "digest": resp.headers["Docker-Content-Digest"],
                "size": int(resp.headers["Content-Length"])}

    def record(self, subject: dict, kind: str, created: str, predicate: dict, statement_subject=None,
               annotations=None, copy_predicate=None, **summary) -> str:
        """A record as shipmark would write it, but unsigned (or with whatever lies are asked for:
        `copy_predicate` puts a copy of the payload in the manifest that says something else)."""
        notes = {"org.opencontainers.image.created": created, "dev.shipmark.kind": kind,
                 **{f"dev.shipmark.{k}": v for k, v in summary.items()}}
        statement = {"_type": "https://in-toto.io/Statement/v1",
                     "subject": [{"name": "app", "digest": {"sha256": (statement_subject or subject["digest"])[7:]},
                                  "annotations": notes}],
                     "predicateType": PREDICATES[kind], "predicate": predicate}
        layer = json.dumps(statement).encode()
        self.blob(b"{}")
        layer_desc = {"mediaType": IN_TOTO, "digest": self.blob(layer), "size": len(layer)}
        if copy_predicate is not None:
            other = json.dumps({**statement, "predicate": copy_predicate}).encode()
            layer_desc["data"] = base64.b64encode(other).decode()
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "artifactType": "application/vnd.shipmark.record.v1+json",
               "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(b"{}"), "size": 2},
               "layers": [layer_desc],
               "subject": subject, "annotations": dict(notes, **(annotations or {}))}
        raw_digest = digest_of(json.dumps(doc).encode())
        tag = f"sha256-{subject['digest'][7:39]}.{raw_digest[7:]}" if self.per_record_tags else None
        return self.manifest(doc, tag)


@pytest.fixture
def story(registry_store, cli, tmp_path):
    """Two builds: 1 went through CI and QA with signed records; 2 is newer and untested."""
    assert cli("keygen", "--out", "ci").code == 0 and cli("keygen", "--out", "qa").code == 0
    (tmp_path / "shipmark.yaml").write_text(POLICY)
    repo = registry_store.repo
    good, untested = (repo.with_tag(f"1.{n}.0-b{n}.20261101.abc000{n}") for n in (1, 2))
    for n, ref in ((1, good), (2, untested)):
        push_sample_image(registry_store.store, ref, "app", datetime(2026, 11, n, tzinfo=timezone.utc))
    for args in (("record", good, "--git-commit", "a" * 40, "--git-branch", "master", "--signing-key", "ci.key"),
                 ("mark", good, "--suite", "unit", "--result", "passed", "--signing-key", "ci.key"),
                 ("promote", good, "--to", "testing", "--signing-key", "ci.key"),
                 ("mark", good, "--suite", "acceptance", "--result", "passed", "--signing-key", "qa.key"),
                 ("promote", good, "--to", "stable", "--signing-key", "ci.key")):
        run = cli(*args)
        assert run.code == 0, run.err
    (tmp_path / "services.yaml").write_text(f"services:\n  - {{name: app, repo: {repo.name}}}\nchannel: stable\n")
    return registry_store, good, untested


def answers(cli, case, untested):
    """What the people who trust shipmark see."""
    pick = cli("pick", case.repo.name, "--channel", "stable", "--json")
    plan = cli("plan", "--json")
    dry = cli("promote", untested, "--to", "stable", "--dry-run")
    status = cli("status", untested, "--json").json
    return (pick.code, pick.json.get("digest") if pick.code == 0 else pick.json["error"]["message"],
            plan.code, plan.json["services"][0]["digest"] if plan.code == 0 else plan.json["error"]["message"],
            dry.code, status["state"], {c: d["ok"] for c, d in status["eligible"].items()})


def test_hand_made_records_on_an_untested_image_change_no_answer(story, cli):
    case, good, untested = story
    before = answers(cli, case, untested)
    assert before[0] == 0 and before[4] == 3
    attacker = Attacker(case)
    subject = attacker.head(untested.tag)
    forged = [
        attacker.record(subject, "provenance", "2020-01-01T00:00:00.000Z", {}, branch="master"),
        attacker.record(subject, "test", "2026-11-27T00:00:00.000Z", {"result": "PASSED"}, suite="acceptance",
                        result="passed"),
        attacker.record(subject, "test", "2026-11-27T00:00:00.000Z", {"result": "PASSED"}, suite="unit",
                        result="passed"),
        attacker.record(subject, "promotion", "2026-11-27T00:00:00.000Z", {"channel": "testing"}, channel="testing"),
        attacker.record(subject, "promotion", "2026-11-27T00:00:00.000Z", {"channel": "stable"}, channel="stable"),
    ]
    assert answers(cli, case, untested) == before
    assert cli("promote", untested, "--to", "stable").code == 3
    untrusted = {u["digest"]: u for u in cli("status", untested, "--json").json["untrusted"]}
    assert set(untrusted) == set(forged)
    assert untrusted[forged[1]]["why"] == "unsigned; the policy trusts qa for test 'acceptance'"
    assert all(u["trusted"] is False for u in untrusted.values())
    listed = cli("list", case.repo.name, "--json").json["images"]
    assert [len(i["untrusted"]) for i in listed] == [5, 0]
    skipped = cli("plan", "--json").json["services"][0]["skipped"]
    assert [(s["digest"], len(s["untrusted"])) for s in skipped] == [(subject["digest"], 5)]


def test_a_restoration_from_the_future_does_not_undo_a_rejection(story, cli):
    case, good, untested = story
    rejected = cli("reject", good, "--reason", "crashes", "--json")
    assert rejected.code == 0
    rejection = rejected.json["record"]["digest"]
    before = answers(cli, case, untested)
    assert before[0] == 3   # nothing eligible for stable
    attacker = Attacker(case)
    forged = attacker.record(attacker.head(good.tag), "restoration", "9999-12-31T23:59:59.999Z",
                             {"reason": "trust me", "restores": [rejection]})
    assert answers(cli, case, untested) == before
    why = {u["digest"]: u["why"] for u in cli("status", good, "--json").json["untrusted"]}
    assert "more than 10 minutes after this reader's clock" in why[forged]
    # QA's signed restore names the rejection and undoes it; a rejection made after it stands.
    assert cli("restore", good, "--reason", "false alarm", "--signing-key", "qa.key").code == 0
    assert cli("pick", case.repo.name, "--channel", "stable").code == 0
    assert cli("reject", good, "--reason", "crashes again").code == 0
    assert cli("pick", case.repo.name, "--channel", "stable").code == 3


def test_annotations_that_lie_about_the_payload_do_not_count(story, cli, tmp_path):
    """Without signers too: the Statement is the evidence, the annotations only a hint."""
    case, good, untested = story
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {require: [unit]}\n")
    before = cli("pick", case.repo.name, "--channel", "testing", "--json").json["digest"]
    attacker = Attacker(case)
    subject = attacker.head(untested.tag)
    good_subject = attacker.head(good.tag)
    lie = attacker.record(subject, "test", "2026-11-27T00:00:00.000Z", {"result": "FAILED"}, suite="unit",
                          result="passed", statement_subject=good_subject["digest"])
    says_passed = attacker.record(subject, "test", "2026-11-27T00:00:00.000Z", {"result": "FAILED"},
                                  suite="unit", result="failed", annotations={"dev.shipmark.result": "passed"})
    assert cli("pick", case.repo.name, "--channel", "testing", "--json").json["digest"] == before
    why = {u["digest"]: u["why"] for u in cli("status", untested, "--json").json["untrusted"]}
    assert why[lie] == "the Statement does not name this image as its subject"
    assert why[says_passed] == "annotation dev.shipmark.result says 'passed', the payload says 'failed'"


def test_a_payload_copy_that_is_not_the_payload_does_not_count(story, cli, tmp_path):
    """A record manifest may carry its payload (the layer's `data`); a copy that differs from
    the layer it describes is refused, not read in place of the layer."""
    case, good, untested = story
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {require: [unit]}\n")
    before = cli("pick", case.repo.name, "--channel", "testing", "--json").json["digest"]
    attacker = Attacker(case)
    forged = attacker.record(attacker.head(untested.tag), "test", "2026-11-27T00:00:00.000Z",
                             {"result": "FAILED"}, suite="unit", result="passed",
                             annotations={"dev.shipmark.result": "passed"},
                             copy_predicate={"result": "PASSED"})
    assert cli("pick", case.repo.name, "--channel", "testing", "--json").json["digest"] == before
    why = {u["digest"]: u["why"] for u in cli("status", untested, "--json").json["untrusted"]}
    assert why[forged] == "record layer: its embedded data does not match its digest"


def test_a_record_of_another_image_listed_in_this_images_index_does_not_count(story, cli, tmp_path):
    case, good, untested = story
    if case.kind != "registry2":
        pytest.skip("the tag-schema index exists only where the registry has no referrers API")
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {require: [unit]}\n")
    attacker = Attacker(case)
    subject, good_subject = attacker.head(untested.tag), attacker.head(good.tag)
    # A genuine-looking passed unit record of the good image, listed in the untested image's
    # index and given a per-record tag under the untested image's prefix.
    record = attacker.record(good_subject, "test", "2026-11-27T00:00:00.000Z", {"result": "PASSED"},
                             suite="unit", result="passed")
    raw = requests.get(f"{attacker.base}/manifests/{record}", headers={"Accept": OCI_MANIFEST}, timeout=10).content
    attacker.manifest(raw, f"sha256-{subject['digest'][7:39]}.{record[7:]}")
    entry = {"mediaType": OCI_MANIFEST, "digest": record, "size": len(raw),
             "artifactType": "application/vnd.shipmark.record.v1+json", "annotations": json.loads(raw)["annotations"]}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [entry]}
    requests.put(f"{attacker.base}/manifests/sha256-{subject['digest'][7:]}", data=json.dumps(index).encode(),
                 headers={"Content-Type": "application/vnd.oci.image.index.v1+json"}, timeout=10).raise_for_status()
    for _ in range(2):   # before and after a shipmark write, which adopts what the index lists
        status = cli("status", untested, "--json").json
        assert "unit" not in status["state"]["suites"]
        assert record not in [r["digest"] for r in status["timeline"]]
        assert cli("mark", untested, "--suite", "lint", "--result", "passed").code == 0


def test_old_unsigned_records_still_read(registry_store, cli, tmp_path):
    from shipmark.core.descriptor import Descriptor
    from servers import build_record
    ref = registry_store.repo.with_tag("1.0.0-b1.20261101.abc0001")
    push_sample_image(registry_store.store, ref, "app", datetime(2026, 11, 1, tzinfo=timezone.utc))
    desc = registry_store.store.head_manifest(ref)
    manifest, blobs = build_record(Descriptor(desc.media_type, desc.digest, desc.size), 1)   # no signed summary
    attacker = Attacker(registry_store)
    for data in blobs.values():
        attacker.blob(data)
    tag = f"sha256-{desc.digest[7:39]}.{manifest.digest[7:]}" if attacker.per_record_tags else None
    attacker.manifest(manifest.raw, tag)
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {require: [unit]}\n")
    status = cli("status", str(ref), "--json").json
    assert status["state"]["suites"] == {"unit": "passed"} and status["untrusted"] == []
    assert cli("promote", str(ref), "--to", "testing").code == 0   # the old record makes it eligible
