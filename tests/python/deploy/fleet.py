"""A fleet of services for the fleet test and bench/fleet_bench.py: N repositories of T builds,
each image with three records (provenance, unit passed, acceptance) written as `shipmark
record/mark` leave them (per-record tags and the referrers index with copies of them), pushed over the registry API
by many threads. The newest FAILING builds of each service failed acceptance, so with POLICY
the nightly plan walks FAILING + 1 images per service and takes build T - FAILING."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List

from shipmark.core import mediatype as mt
from shipmark.core import record as rec
from shipmark.core import version
from shipmark.core.descriptor import Manifest, canonical_json, with_data
from shipmark.core.ref import Ref, parse_repo
from shipmark.ops.demo import push_sample_image
from shipmark.stores import open_store
from shipmark.stores.base import Limits
from shipmark.stores.discovery import index_tag, record_tag

POLICY = "channels:\n  stable: {require: [acceptance], auto: true}\n"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
FAILING = 3


def build_tag(n: int) -> str:
    return version.make_tag(f"1.{n // 100}.{n % 100}", n, START + timedelta(hours=n), "abcdef0")


def push_build(store, repo: Ref, service: str, n: int, acceptance: str, promoted: bool = False) -> None:
    """Build n of a service: the image and its three records, and with `promoted` a promotion
    into stable when acceptance passed (for a channel that is not `auto`)."""
    when = START + timedelta(hours=n)
    tag = build_tag(n)
    push_sample_image(store, repo.with_tag(tag), service, when)
    subject = store.head_manifest(repo.with_tag(tag))
    by = f"https://jenkins.example.com/job/{service}/{n}/"
    records = [
        rec.build(rec.PROVENANCE, subject, repo.name, {"builder": by}, when, by, branch="master"),
        rec.build(rec.TEST, subject, repo.name, {"result": "PASSED"}, when + timedelta(minutes=5), by,
                  suite="unit", result="passed"),
        rec.build(rec.TEST, subject, repo.name, {"result": acceptance.upper()}, when + timedelta(minutes=30),
                  by, suite="acceptance", result=acceptance),
    ]
    if promoted and acceptance == "passed":
        records.append(rec.build(rec.PROMOTION, subject, repo.name, {"channel": "stable", "by": by},
                                 when + timedelta(hours=1), by, channel="stable"))
    for new in records:
        for digest, data in new.blobs.items():
            if digest != mt.EMPTY_DIGEST:
                store.put_blob(repo, data, digest)
        store.put_manifest(repo.with_tag(record_tag(subject.digest, new.manifest.digest)), new.manifest)
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
             "manifests": sorted((with_data(new.descriptor.to_json(), new.manifest.raw) for new in records),
                                 key=lambda d: d["digest"])}
    store.put_manifest(repo.with_tag(index_tag(subject.digest)), Manifest(mt.OCI_INDEX, canonical_json(index)))


def push_fleet(host: str, prefix: str, services: int, tags: int, threads: int = 32, failing: int = FAILING,
               promoted: bool = False) -> List[str]:
    """`services` repositories `host/prefix/svcNNN` of `tags` builds each, the newest `failing`
    of them failed acceptance; their names."""
    # Thousands of images take minutes: longer than a command's deadline.
    store = open_store(parse_repo(f"{host}/{prefix}/x"), {"pool_size": threads, "limits": Limits(deadline=3600)})
    names = [f"svc{i:03d}" for i in range(services)]
    for name in names:
        store.put_blob(parse_repo(f"{host}/{prefix}/{name}"), mt.EMPTY_JSON, mt.EMPTY_DIGEST)

    def one(job):
        name, n = job
        push_build(store, parse_repo(f"{host}/{prefix}/{name}"), name, n,
                   "failed" if n > tags - failing else "passed", promoted)
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, [(name, n) for name in names for n in range(1, tags + 1)]))
    finally:
        store.close()
    return names


def write_services(path: Path, host: str, prefix: str, names: List[str]) -> Path:
    """services.yaml for the fleet (target prod, channel stable, policy shipmark.yaml beside it)."""
    path.write_text("target: prod\nchannel: stable\npolicy: shipmark.yaml\nservices:\n" + "".join(
        f"  - name: {n}\n    repo: {host}/{prefix}/{n}\n" for n in names))
    (path.parent / "shipmark.yaml").write_text(POLICY)
    return path
