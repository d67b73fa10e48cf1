"""A small release history for the deploy tests and the benchmark: real (tiny) images pushed to a
store, with provenance, unit and acceptance records and promotions through the shipmark ops, so
the records are exactly what a pipeline writes."""

import gzip
import io
import tarfile
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

from shipmark.core import mediatype as mt
from shipmark.core import version
from shipmark.core.descriptor import Manifest, canonical_json, sha256
from shipmark.core.policy import Policy
from shipmark.core.ref import Ref
from shipmark.errors import PolicyError
from shipmark.ops import annotate, channel

POLICY_YAML = """\
channels:
  testing: {require: [unit]}
  stable:  {require: [acceptance], after: testing}
"""
POLICY = Policy.from_dict({"channels": {"testing": {"require": ["unit"]},
                                        "stable": {"require": ["acceptance"], "after": "testing"}}},
                          source="shipmark.yaml")
NOW = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)
JENKINS = "https://jenkins.example.com/job/{service}/{build}/"

# service -> builds as (version, unit, acceptance, rejected); None = suite not run
STORY: Dict[str, List[Tuple[str, str, Optional[str], bool]]] = {
    "api": [("1.0.0", "passed", "passed", False), ("1.1.0", "passed", "passed", False),
            ("1.2.0", "passed", "failed", False), ("1.3.0", "failed", None, False)],
    "web": [("2.0.0", "passed", "passed", False), ("2.1.0", "passed", "passed", True),
            ("2.2.0", "passed", "failed", False)],
    "worker": [("0.1.0", "passed", "passed", False), ("0.2.0", "passed", "passed", False)],
}
# What `plan --channel stable` must pick from STORY.
EXPECTED_STABLE = {"api": "1.1.0", "web": "2.0.0", "worker": "0.2.0"}


def image_blobs(service: str, tag: str, created: datetime) -> Dict[str, bytes]:
    """A tiny but real image: one gzip tar layer, an OCI config with the standard labels."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        body = f"{service} {tag}\n".encode()
        info = tarfile.TarInfo(f"app/{service}.version")
        info.size, info.mtime = len(body), 0
        tar.addfile(info, io.BytesIO(body))
    layer = gzip.compress(buf.getvalue(), mtime=0)
    labels = version.labels(tag.split("-b")[0], created, None, f"https://git.example.com/{service}")
    config = canonical_json({"architecture": "amd64", "os": "linux", "created": labels[mt.L_CREATED],
                             "config": {"Labels": labels},
                             "rootfs": {"type": "layers", "diff_ids": [sha256(buf.getvalue())]}})
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": sha256(layer), "size": len(layer)}]})
    return {"config": config, "layer": layer, "manifest": manifest}


def push_image(store, repo: Ref, service: str, ver: str, build: int, created: datetime) -> Ref:
    tag = version.make_tag(ver, build, created, sha256(f"{service}/{build}".encode())[7:14])
    blobs = image_blobs(service, tag, created)
    store.put_blob(repo, blobs["config"])
    store.put_blob(repo, blobs["layer"])
    ref = repo.with_tag(tag)
    store.put_manifest(ref, Manifest(mt.OCI_MANIFEST, blobs["manifest"]))
    return ref


def build_service(store, repo: Ref, service: str, builds, now: datetime = NOW) -> List[Ref]:
    """Push the builds oldest first; record and promote each one as a pipeline would."""
    refs = []
    start = now - timedelta(days=len(builds) + 1)
    for n, (ver, unit, acceptance, rejected) in enumerate(builds):
        built = start + timedelta(days=n)
        by = JENKINS.format(service=service, build=n + 1)
        ref = push_image(store, repo, service, ver, n + 1, built)
        refs.append(ref)
        annotate.provenance(store=store, ref=ref, now=built, by=by, git_branch="master", build_url=by)
        annotate.mark(store=store, ref=ref, now=built + timedelta(minutes=5), by=by, suite="unit", result=unit)
        try:
            channel.promote(store=store, ref=ref, channel="testing", policy=POLICY,
                            now=built + timedelta(minutes=10), by=by)
        except PolicyError:
            continue
        if acceptance:
            annotate.mark(store=store, ref=ref, now=built + timedelta(hours=1), by=by + "acceptance/",
                          suite="acceptance", result=acceptance)
            try:
                channel.promote(store=store, ref=ref, channel="stable", policy=POLICY,
                                now=built + timedelta(hours=2), by=by)
            except PolicyError:
                pass
        if rejected:
            annotate.verdict(store=store, ref=ref, now=built + timedelta(hours=5), by="oncall@example.com",
                             reject=True, reason="p95 latency doubled")
    return refs


def services_yaml(repos: Dict[str, str], target: str = "prod", policy: str = "shipmark.yaml") -> str:
    lines = [f"target: {target}", "channel: stable", f"policy: {policy}", "vars:", "  network: backend",
             "services:"]
    for n, (name, repo) in enumerate(sorted(repos.items())):
        lines += [f"  - name: {name}", f"    repo: {repo}", "    vars:",
                  f"      ports: [\"{8080 + n}:8080\"]", "      environment:", f"        SERVICE: {name}"]
    return "\n".join(lines) + "\n"
