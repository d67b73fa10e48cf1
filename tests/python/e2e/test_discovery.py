"""Record discovery on both registries, tried with other OCI tools as independent writers and
readers (oras, crane, regctl): one answer warm or cold, tolerant reading, writes that leave the
registry's listing complete, copies that carry every referrer, and pruning."""

import json
from datetime import datetime, timezone

import pytest

from shipmark.core import mediatype as mt
from shipmark.core.descriptor import Manifest, canonical_json
from shipmark.core.ref import parse
from shipmark.ops.demo import push_sample_image
from shipmark.stores.discovery import index_tag, record_tag

from servers import run_tool

BLOCKING = """\
channels:
  testing: {require: [unit], block_on: [e2e], auto: true}   # auto: pick answers by the policy
"""


@pytest.fixture
def case(registry_store, cli, tmp_path, monkeypatch):
    (tmp_path / "shipmark.yaml").write_text(BLOCKING)
    registry_store.cli = cli
    registry_store.cache = lambda name: monkeypatch.setenv("SHIPMARK_CACHE_DIR", str(tmp_path / name))
    registry_store.cache("cache-warm")
    return registry_store


def _push(case, n, repo=None):
    repo = repo or case.repo
    ref = repo.with_tag(f"1.{n}.0-b{n}.20261101.abc{n:04d}")
    push_sample_image(case.store, ref, "svc", datetime(2026, 11, 1, n, tzinfo=timezone.utc))
    return ref


def _tool_ref(case, ref):
    return f"{case.repo.name}@{case.store.head_manifest(ref).digest}"


def _oras_attach(case, ref, tmp_path, artifact_type, annotations, name="payload.json", body=b"{}"):
    payload = tmp_path / name
    payload.write_bytes(body)
    args = ["attach", "--plain-http", "--disable-path-validation", "--artifact-type", artifact_type,
            "--format", "json"]
    for key, value in annotations.items():
        args += ["--annotation", f"{key}={value}"]
    out = run_tool("oras", *args, _tool_ref(case, ref), f"{payload}:application/vnd.in-toto+json").stdout
    return json.loads(out)["digest"]


def _delete(case, digest, tags=()):
    """Delete a manifest as another tool would: by digest (Registry 2.8 drops its tags with it);
    go-containerregistry's registry keeps tag entries, so they are deleted by name there."""
    run_tool("crane", "delete", "--insecure", f"{case.repo.name}@{digest}")
    for tag in tags:
        run_tool("crane", "delete", "--insecure", f"{case.repo.name}:{tag}", check=False)


def _answers(case, ref):
    """What each command says of one image: list's summary, pick's answer, status and promote."""
    sm = case.cli
    listed = sm("list", case.repo.name, "--json")
    assert listed.code == 0, listed.err
    summary = {i["digest"]: i["summary"] for i in listed.json["images"]}
    digest = case.store.head_manifest(ref).digest
    picked = sm("pick", case.repo.name, "--channel", "testing", "--json")
    status = sm("status", str(ref), "--json").json
    promote = sm("promote", str(ref), "--to", "testing", "--dry-run")
    return (summary[digest], picked.code == 0 and picked.json["digest"] == digest,
            status["state"]["summary"], status["eligible"]["testing"]["ok"], promote.code == 0)


def test_a_record_another_tool_attached_gets_one_answer_warm_or_cold(case, tmp_path):
    ref = _push(case, 1)
    assert case.cli("mark", str(ref), "--suite", "unit", "--result", "passed").code == 0
    warm = _answers(case, ref)   # warms the cache
    assert warm == ("passed: unit", True, "passed: unit", True, True)
    # The payload is the evidence (issue 9): an in-toto Statement naming the image, as any tool writes it.
    statement = {"_type": mt.STATEMENT_V1, "predicateType": mt.PRED_TEST_RESULT,
                 "subject": [{"name": "app", "digest": {"sha256": case.store.head_manifest(ref).digest[7:]}}],
                 "predicate": {"result": "FAILED", "configuration": [{"name": "e2e", "uri": "https://ci.example/1"}]}}
    foreign = _oras_attach(case, ref, tmp_path, mt.RECORD_ARTIFACT, {
        mt.A_KIND: "test", mt.A_SUITE: "e2e", mt.A_RESULT: "failed",
        mt.A_CREATED: "2026-11-29T00:00:00.000Z"}, body=json.dumps(statement).encode())
    # Not adopted yet: no command counts it, warm or cold, and status says why.
    assert _answers(case, ref) == warm
    case.cache("cache-cold")
    assert _answers(case, ref) == warm
    status = case.cli("status", str(ref), "--json").json
    assert [s["digest"] for s in status["referrers"]["not_counted"]] == [foreign]
    assert "shipmark repair" in status["referrers"]["not_counted"][0]["why"]
    # Adopted: every command counts it, warm or cold.
    repaired = case.cli("repair", str(ref), "--json")
    assert repaired.code == 0 and repaired.json["images"][0]["adopted"] == [foreign]
    blocked = ("failed: e2e", False, "failed: e2e", False, False)
    assert _answers(case, ref) == blocked
    case.cache("cache-cold-2")
    assert _answers(case, ref) == blocked
    assert case.cli("status", str(ref), "--json").json["referrers"]["not_counted"] == []


def test_a_deleted_record_no_longer_counts_and_later_writes_still_work(case):
    ref = _push(case, 1)
    for result in ("passed", "failed"):
        assert case.cli("mark", str(ref), "--suite", "unit", "--result", result).code == 0
    status = case.cli("status", str(ref), "--json").json
    newest = status["timeline"][0]["digest"]
    _delete(case, newest, [record_tag(status["digest"], newest)])   # or registry GC
    assert case.cli("status", str(ref), "--json").json["state"]["suites"] == {"unit": "passed"}
    again = case.cli("mark", str(ref), "--suite", "e2e", "--result", "passed")
    assert again.code == 0, again.err
    listed = set(_peer_listing(case, ref))
    assert newest not in listed and len(listed) == 2


def test_a_malformed_index_entry_is_skipped_reported_and_dropped(case):
    if case.native_referrers:
        pytest.skip("the registry keeps the listing: there is no index to damage")
    ref = _push(case, 1)
    assert case.cli("mark", str(ref), "--suite", "unit", "--result", "passed").code == 0
    subject = case.store.head_manifest(ref).digest
    tag = case.repo.with_tag(index_tag(subject))
    index = case.store.get_manifest(tag).data
    # Registry 2.8 checks that an index's children exist: the bad entry names an existing one.
    bad = {k: v for k, v in index["manifests"][0].items() if k != "mediaType"}
    index["manifests"] = [bad]
    case.store.put_manifest(tag, Manifest(mt.OCI_INDEX, canonical_json(index)))
    for argv in (("pick", case.repo.name, "--channel", "testing"), ("list", case.repo.name),
                 ("history", case.repo.name, "--channel", "testing")):
        assert case.cli(*argv).code in (0, 3)   # never "bad input" for the whole repository
    status = case.cli("status", str(ref), "--json").json
    assert status["state"]["suites"] == {"unit": "passed"}
    assert status["referrers"]["not_counted"][0]["why"].startswith("an index entry without")
    assert case.cli("mark", str(ref), "--suite", "e2e", "--result", "passed").code == 0
    assert len(_peer_listing(case, ref)) == 2   # the entry is whole again, beside the new record
    assert case.cli("status", str(ref), "--json").json["referrers"]["not_counted"] == []


def _peer_listing(case, ref):
    """The image's referrers as regctl (an independent OCI client) lists them."""
    out = run_tool("regctl", "artifact", "list", "--host", f"reg={case.repo.registry},tls=disabled",
                   "--format", "body", f"{case.repo.name}:{ref.tag}").stdout
    return [m["digest"] for m in json.loads(out).get("manifests") or []]


def test_copy_to_carries_every_referrer_unless_told_otherwise(case, tmp_path):
    ref = _push(case, 1)
    assert case.cli("mark", str(ref), "--suite", "unit", "--result", "passed").code == 0
    sbom = _oras_attach(case, ref, tmp_path, "application/spdx+json", {}, "sbom.json", b'{"spdx": 1}')
    digest = case.store.head_manifest(ref).digest
    full, slim = (parse(f"{case.repo.name}-{n}", default_tag=None) for n in ("full", "slim"))
    assert case.cli("promote", str(ref), "--to", "testing", "--copy-to", full.name).code == 0
    assert case.cli("promote", str(ref), "--to", "testing", "--copy-to", slim.name,
                    "--records-only").code == 0

    def oras(repo):
        out = run_tool("oras", "discover", "--plain-http", "--format", "json", f"{repo.name}@{digest}").stdout
        return {r["artifactType"] for r in json.loads(out).get("referrers") or []}
    assert oras(full) == {mt.RECORD_ARTIFACT, "application/spdx+json"}
    assert oras(slim) == {mt.RECORD_ARTIFACT}
    assert sbom not in case.cli("status", f"{slim.name}@{digest}", "--json").out


def test_prune_removes_what_belonged_to_deleted_images(case):
    gone, kept = _push(case, 1), _push(case, 2)
    for ref in (gone, kept):
        assert case.cli("mark", str(ref), "--suite", "unit", "--result", "passed").code == 0
    gone_digest = case.store.head_manifest(gone).digest
    _delete(case, gone_digest, [gone.tag])

    def internal():
        return sorted(t for t in case.store.list_tags(case.repo) if t.startswith("sha256-"))
    before = internal()
    dry = case.cli("prune", case.repo.name, "--dry-run", "--json")
    assert dry.code == 0 and [o["subject"] for o in dry.json["orphans"]] == [gone_digest]
    assert internal() == before
    assert case.cli("prune", case.repo.name).code == 0
    after = internal()
    assert not any(t.startswith(f"sha256-{gone_digest[7:39]}") or t == index_tag(gone_digest) for t in after)
    assert any(t.startswith(f"sha256-{case.store.head_manifest(kept).digest[7:39]}") for t in after)
    assert case.cli("prune", case.repo.name, "--json").json["orphans"] == []
    status = case.cli("status", str(kept), "--json").json
    assert status["state"]["suites"] == {"unit": "passed"}
    assert record_tag(status["digest"], status["timeline"][0]["digest"]) in after
