"""A small release history for the deploy tests and the benchmark: real (tiny) images pushed to a
store, with provenance, unit and acceptance records and promotions through the shipmark ops, so
the records are exactly what a pipeline writes."""

from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

from shipmark.core import version
from shipmark.core.descriptor import sha256
from shipmark.core.policy import Policy
from shipmark.core.ref import Ref
from shipmark.errors import PolicyError
from shipmark.ops import annotate, channel
from shipmark.ops.demo import push_sample_image

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


def push_image(store, repo: Ref, service: str, ver: str, build: int, created: datetime) -> Ref:
    sha = sha256(f"{service}/{build}".encode())[7:14]
    ref = repo.with_tag(version.make_tag(ver, build, created, sha))
    push_sample_image(store, ref, service, created, sha)
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


def push_story(host: str, prefix: str):
    """STORY pushed to fresh repositories `host/prefix-<random>/<service>` of one registry;
    returns the store and the repositories by service name."""
    import uuid

    from shipmark.core.ref import parse_repo
    from shipmark.stores import open_store
    base = f"{host}/{prefix}-{uuid.uuid4().hex[:8]}"
    store = open_store(parse_repo(f"{base}/x"))
    repos = {}
    for name, builds in STORY.items():
        repos[name] = parse_repo(f"{base}/{name}")
        build_service(store, repos[name], name, builds)
    return store, repos
