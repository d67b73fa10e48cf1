"""Records attached to images, on every store: round trip, the record set and what each store
publishes for other tools, the referrers-API probe, 50 concurrent writer processes, and what
oras sees."""

import base64
import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shipmark.core import mediatype as mt
from shipmark.core import record as core_record
from shipmark.core.descriptor import Manifest
from shipmark.errors import NotFoundError
from shipmark.ops.images import checked_records
from shipmark.stores.discovery import Discovery, index_tag, record_tag

from faultproxy import FaultProxy
from servers import build_record, push_image, run_tool

WRITERS = 50
RESULTS = Path(os.environ.get("SHIPMARK_TEST_RESULTS", "/tmp/shipmark-test-results.json"))


def _attach(case, image, index, **kw):
    record, blobs = build_record(image.descriptor, index, **kw)
    Discovery(case.store, case.repo).attach(image.descriptor, record, blobs)
    return record


def _records(case, digest, store=None, repo=None):
    return [d.digest for d in Discovery(store or case.store, repo or case.repo).records(digest)]


def _oras_digests(case, digest):
    out = run_tool("oras", "discover", "--format", "json", *case.oras_target(digest)).stdout
    return sorted(r["digest"] for r in json.loads(out).get("referrers") or [])


def _index_digests(case, digest):
    """What the `sha256-<hex>` tag-schema index lists (None when there is none)."""
    try:
        index = case.store.get_manifest(case.repo.with_tag(index_tag(digest)))
    except NotFoundError:
        return None
    return sorted(m["digest"] for m in index.data.get("manifests") or [])


def test_attach_then_read_round_trip(store):
    image = push_image(store.store, store.repo, "1.0.0-b1", seed="roundtrip")
    records = [_attach(store, image, i, suite=f"suite{i}") for i in range(3)]
    found = Discovery(store.store, store.repo).records(image.digest)
    assert [d.digest for d in found] == sorted(r.digest for r in records)
    by_digest = {d.digest: d for d in found}
    for i, record in enumerate(records):
        desc = by_digest[record.digest]
        assert desc.media_type == mt.OCI_MANIFEST and desc.size == len(record.raw)
        assert desc.annotations[mt.A_SUITE] == f"suite{i}"
        assert desc.annotations[mt.A_KIND] == "test"
        assert desc.artifact_type == mt.RECORD_ARTIFACT   # read from the record, on every store
        assert store.store.get_manifest(store.repo.with_digest(record.digest)).raw == record.raw


def test_attach_is_idempotent(store):
    image = push_image(store.store, store.repo, "v1", seed="idem")
    record = _attach(store, image, 7)
    _attach(store, image, 7)
    assert _records(store, image.digest) == [record.digest]


def test_records_belong_to_their_own_image(store):
    one = push_image(store.store, store.repo, "one", seed="one")
    two = push_image(store.store, store.repo, "two", seed="two")
    r1 = _attach(store, one, 1)
    r2 = _attach(store, two, 2)
    assert _records(store, one.digest) == [r1.digest]
    assert _records(store, two.digest) == [r2.digest]
    assert _records(store, "sha256:" + "e" * 64) == []


def test_every_store_keeps_record_tags_and_publishes_for_other_tools(store):
    """Each record has a tag of its own everywhere (the record set); the registry with the
    referrers API lists records by itself, the others get the tag-schema index."""
    image = push_image(store.store, store.repo, "v1", seed="path")
    record = _attach(store, image, 1)
    tags = store.store.list_tags(store.repo)
    assert record_tag(image.digest, record.digest) in tags
    if store.native_referrers:
        answer = store.store.referrers(store.repo, image.digest)
        assert answer.supported and [d.digest for d in answer.descriptors] == [record.digest]
        assert index_tag(image.digest) not in tags
    else:
        assert _index_digests(store, image.digest) == [record.digest]
    assert _oras_digests(store, image.digest) == [record.digest]


def test_referrers_api_is_probed_once_per_repository(registry_store):
    image = push_image(registry_store.store, registry_store.repo, "v1", seed="probe")
    with FaultProxy(registry_store.server.host) as proxy:
        client, repo = registry_store.through(proxy)
        for i in range(3):
            record, blobs = build_record(image.descriptor, i)
            Discovery(client, repo).attach(image.descriptor, record, blobs)
            Discovery(client, repo).records(image.digest)
        probes = proxy.requests(method="GET", path=r"/referrers/")
        reads = proxy.requests(method="GET", path=r"/manifests/sha256-")
    assert len(probes) == 1
    assert probes[0].status == (200 if registry_store.native_referrers else 404)
    # Reading records never asks the referrers listing or the index: the tag list answers.
    # Without the API each write but the first reads the index it rewrites (the first has none).
    assert len(reads) == (0 if registry_store.native_referrers else 2)


def test_a_cold_read_takes_records_from_the_index_copies_and_checks_them(registry_store):
    """Without the referrers API, a cold read of an image's records, payloads included, is one
    request: the index carries copies of the record manifests and each manifest its payload. A
    copy whose bytes are not what the record's own tag names is ignored and that record is read
    on its own, so the answer stays the same."""
    case = registry_store
    image = push_image(case.store, case.repo, "v1", seed="copies")
    found = Discovery(case.store, case.repo)
    for suite in ("unit", "e2e", "perf"):
        new = core_record.build("test", image.descriptor, case.repo.name, core_record.test_predicate(
            suite, "passed", None, ["t"], [], [], None), datetime.now(timezone.utc), None, suite, "passed")
        found.attach(image.descriptor, new.manifest, new.blobs)
    records = sorted(d.digest for d in found.records(image.digest))
    if case.native_referrers:
        assert index_tag(image.digest) not in case.store.list_tags(case.repo)
        return
    index = case.store.get_manifest(case.repo.with_tag(index_tag(image.digest)))
    entries = index.data["manifests"]
    assert [e["digest"] for e in entries] == records
    for entry in entries:
        assert base64.b64decode(entry["data"]) == case.store.get_manifest(case.repo.with_digest(entry["digest"])).raw
    with FaultProxy(case.server.host) as proxy:
        repo = dataclasses.replace(case.repo, registry=proxy.host)

        def read_cold(cache):
            cold = Discovery(case.open(repo, {"cache_dir": str(case.tmp_path / cache)}), repo)
            counted, ignored = checked_records(cold, image.digest)
            return sorted((r.digest, r.result) for r in counted), ignored

        assert read_cold("first") == ([(d, "passed") for d in records], [])
        assert [e.path.split("/")[-1] for e in proxy.requests(method="GET", path="/manifests/")] \
            == [index_tag(image.digest)]
        assert proxy.requests(path="/blobs/") == []   # the payloads travel in the manifests

        # Someone swaps one copy for another record's bytes: its digest no longer matches.
        entries[0]["data"] = entries[1]["data"]
        forged = Manifest(mt.OCI_INDEX, json.dumps({**index.data, "manifests": entries}).encode())
        case.store.put_manifest(case.repo.with_tag(index_tag(image.digest)), forged)
        proxy.reset_log()
        assert read_cold("second") == ([(d, "passed") for d in records], [])
        alone = [e.path.split("/")[-1] for e in proxy.requests(method="GET", path="/manifests/sha256:")]
        assert alone == [records[0]]
        assert proxy.requests(path="/blobs/") == []


_WORKER = r"""
import json, os, sys, time, base64
from shipmark.core.descriptor import Descriptor, Manifest
from shipmark.core.ref import parse
from shipmark.stores import open_store
from shipmark.stores.discovery import Discovery
job = json.load(open(sys.argv[1]))
repo = parse(job["repo"], default_tag=None)
subject = Descriptor.from_json(job["subject"])
record = Manifest(job["media_type"], base64.b64decode(job["raw"]))
blobs = {d: base64.b64decode(b) for d, b in job["blobs"].items()}
store = open_store(repo)
open(job["ready"], "w").close()
while not os.path.exists(job["go"]):
    time.sleep(0.005)
Discovery(store, repo).attach(subject, record, blobs)
store.close()
print(record.digest)
"""


def test_concurrent_writers_lose_no_record(store, tmp_path):
    """50 processes attach 50 distinct records to one image at the same moment."""
    image = push_image(store.store, store.repo, "v1", seed="race")
    go = tmp_path / "go"
    procs, expected = [], []
    for i in range(WRITERS):
        record, blobs = build_record(image.descriptor, i, created=f"2026-11-28T00:00:{i:02d}Z")
        expected.append(record.digest)
        job = tmp_path / f"job{i}.json"
        job.write_text(json.dumps({
            "repo": str(store.repo), "subject": image.descriptor.to_json(), "go": str(go),
            "ready": str(tmp_path / f"ready{i}"),
            "media_type": record.media_type, "raw": base64.b64encode(record.raw).decode(),
            "blobs": {d: base64.b64encode(b).decode() for d, b in blobs.items()}}))
        procs.append(subprocess.Popen([sys.executable, "-c", _WORKER, str(job)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 240  # let them all import; then all write at once
    while (sum(1 for i in range(WRITERS) if (tmp_path / f"ready{i}").exists()) < WRITERS
           and time.monotonic() < deadline and all(p.poll() is None for p in procs)):
        time.sleep(0.05)
    go.touch()
    started = time.monotonic()
    failures = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failures.append(err[-800:])
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} writers failed; first:\n{failures[0]}"

    listed = _records(store, image.digest)
    measured = {"store": store.kind, "writers": WRITERS, "listed": len(listed),
                "seconds": round(elapsed, 2), "oras": len(_oras_digests(store, image.digest))}
    if not store.native_referrers:
        # No repair after the fact: the last writer's own rewrite leaves the index complete.
        measured["index"] = len(_index_digests(store, image.digest) or [])
    _save(measured)
    assert sorted(listed) == sorted(expected)
    assert _oras_digests(store, image.digest) == sorted(expected)
    if not store.native_referrers:
        assert _index_digests(store, image.digest) == sorted(expected)


def test_oras_discover_lists_our_records(store):
    image = push_image(store.store, store.repo, "v1", seed="oras")
    records = [_attach(store, image, i) for i in range(3)]
    assert _oras_digests(store, image.digest) == sorted(r.digest for r in records)


def _save(measured):
    try:
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    except ValueError:
        data = {}
    data[f"concurrency/{measured['store']}"] = measured
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True))
    print("measured:", json.dumps(measured))


def test_stock_crane_registry_has_no_referrers_api(crane_registry):
    """`crane registry serve` (v0.22.1) leaves go-containerregistry's referrers API off, so it
    gets the tag-schema index like 2.8."""
    import uuid

    from shipmark.core.ref import parse
    from shipmark.stores import open_store

    repo = parse(f"{crane_registry.host}/crane/{uuid.uuid4().hex[:8]}", default_tag=None)
    store = open_store(repo)
    image = push_image(store, repo, "v1", seed="crane")
    assert store.referrers(repo, image.digest).supported is False
    record, blobs = build_record(image.descriptor, 1)
    found = Discovery(store, repo)
    found.attach(image.descriptor, record, blobs)
    assert found.lists_referrers_itself(image.digest) is False
    assert [d.digest for d in Discovery(store, repo).records(image.digest)] == [record.digest]
    store.close()


def test_an_index_carries_copies_up_to_its_bound_and_the_rest_are_read_alone(registry_store, monkeypatch):
    """Copies stop at INDEX_COPIES_BYTES (an image with many records keeps a small index); a
    record without a copy is read on its own, and the answer is the same."""
    from shipmark.stores import discovery

    case = registry_store
    if case.native_referrers:
        pytest.skip("the tag-schema index exists only where the registry has no referrers API")
    image = push_image(case.store, case.repo, "v1", seed="bound")
    records = [_attach(case, image, i, suite=f"s{i}") for i in range(4)]
    monkeypatch.setattr(discovery, "INDEX_COPIES_BYTES", len(records[0].raw) * 2)
    _attach(case, image, 4, suite="s4")   # this write rewrites the index under the bound
    entries = case.store.get_manifest(case.repo.with_tag(index_tag(image.digest))).data["manifests"]
    assert len(entries) == 5 and [("data" in e) for e in entries] == [True, True, False, False, False]
    with FaultProxy(case.server.host) as proxy:
        repo = dataclasses.replace(case.repo, registry=proxy.host)
        cold = Discovery(case.open(repo, {"cache_dir": str(case.tmp_path / "cold")}), repo)
        assert [d.digest for d in cold.records(image.digest)] == sorted(e["digest"] for e in entries)
        alone = {e.path.split("/")[-1] for e in proxy.requests(method="GET", path="/manifests/sha256:")}
    assert alone == {e["digest"] for e in entries[2:]}


def test_a_copy_under_another_media_type_is_not_taken(registry_store):
    """An index entry whose media type differs from the one its copy's bytes declare is not
    taken: the record is read on its own and keeps its own media type."""
    case = registry_store
    if case.native_referrers:
        pytest.skip("the tag-schema index exists only where the registry has no referrers API")
    image = push_image(case.store, case.repo, "v1", seed="mediatype")
    records = sorted(_attach(case, image, i, suite=f"m{i}").digest for i in range(2))
    tag = case.repo.with_tag(index_tag(image.digest))
    index = case.store.get_manifest(tag).data
    index["manifests"][0]["mediaType"] = mt.DOCKER_MANIFEST
    case.store.put_manifest(tag, Manifest(mt.OCI_INDEX, json.dumps(index).encode()))
    with FaultProxy(case.server.host) as proxy:
        repo = dataclasses.replace(case.repo, registry=proxy.host)
        cold = Discovery(case.open(repo, {"cache_dir": str(case.tmp_path / "cold")}), repo)
        found = cold.records(image.digest)
        alone = [e.path.split("/")[-1] for e in proxy.requests(method="GET", path="/manifests/sha256:")]
    assert [(d.digest, d.media_type) for d in found] == [(d, mt.OCI_MANIFEST) for d in records]
    assert alone == [records[0]]
