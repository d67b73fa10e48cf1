"""The whole story on fresh OCI layouts: three services, a dozen builds each, some failing
acceptance, one rejected after it reached stable. Time is simulated, so min_age applies.
Every record is signed with a throw-away key that the demo policy trusts, and one forged
(unsigned) record shows what readers do with records nobody trusted signed: ignore and report."""

import gzip
import io
import os
import tarfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import List, Optional

from .. import keys, policyfile
from ..core import mediatype as mt
from ..core import record as rec
from ..core import version
from ..core.descriptor import Manifest, canonical_json, sha256
from ..core.ref import parse_repo
from ..errors import PolicyError
from ..stores.ocidir import OciDirStore
from . import annotate, channel
from .images import attach, load

POLICY_YAML = """\
# shipmark demo policy
signers: {ci: keys/ci.pub}           # a throw-away key made for this demo
trust: {provenance: [ci], test: [ci], promotion: [ci], restoration: [ci], deployment: [ci]}
channels:
  testing: {require: [unit]}
  stable:  {require: [acceptance], after: testing, min_age: 2h, branches: [master]}
"""

# service -> builds as (version, branch, unit, acceptance); None = suite not run
SERVICES = {
    "api": [("1.3.0", "master", "passed", "passed"), ("1.3.1", "master", "passed", "failed"),
            ("1.3.1", "master", "passed", "passed"), ("1.4.0", "master", "failed", None),
            ("1.4.0", "master", "passed", "passed"), ("1.4.1", "feature/x", "passed", "passed"),
            ("1.4.1", "master", "passed", "failed"), ("1.4.2", "master", "passed", "passed"),
            ("1.4.3", "master", "passed", "failed"), ("1.5.0", "master", "passed", "passed"),
            ("1.5.1", "master", "passed", "failed"), ("1.5.2", "master", "passed", None)],
    "web": [("2.0.0", "master", "passed", "passed"), ("2.0.1", "master", "passed", "passed"),
            ("2.1.0", "master", "passed", "failed"), ("2.1.0", "master", "passed", "passed"),
            ("2.1.1", "master", "failed", None), ("2.1.1", "master", "passed", "passed"),
            ("2.2.0", "master", "passed", "passed"), ("2.2.1", "master", "passed", "failed"),
            ("2.2.1", "master", "passed", "passed"), ("2.3.0", "master", "passed", "failed"),
            ("2.3.0", "release/2.3", "passed", "passed"), ("2.3.1", "master", "passed", "failed")],
    "worker": [("0.9.0", "master", "passed", "passed"), ("0.9.1", "master", "passed", "passed"),
               ("0.9.2", "master", "passed", "failed"), ("0.10.0", "master", "passed", "passed"),
               ("0.10.1", "master", "passed", "failed"), ("0.10.1", "master", "passed", "passed"),
               ("0.10.2", "master", "failed", None), ("0.11.0", "master", "passed", "passed"),
               ("0.11.1", "master", "passed", "passed"), ("0.11.2", "master", "passed", "failed"),
               ("0.11.3", "master", "passed", "passed"), ("0.12.0", "master", "passed", "failed")],
}
REJECTED = ("api", 9, "p95 latency doubled in production")   # service, build index, reason
ACTOR = "https://jenkins.example.com/job/{service}/{build}/"
FORGED = "web"   # the service whose newest build gets a forged, unsigned 'acceptance passed'


@dataclass
class ServiceStory:
    name: str
    repo: str
    stable: str = ""
    stable_tag: str = ""
    filtered: List[dict] = field(default_factory=list)
    history: List[dict] = field(default_factory=list)
    forged: Optional[dict] = None      # the forged record and why it was ignored

    def to_json(self) -> dict:
        return {"name": self.name, "repo": self.repo, "stable": self.stable, "stable_tag": self.stable_tag,
                "filtered": self.filtered, "history": self.history, "forged": self.forged}


@dataclass
class Demo:
    directory: str
    policy_file: str
    services: List[ServiceStory]

    def to_json(self) -> dict:
        return {"directory": self.directory, "policy": self.policy_file,
                "services": [s.to_json() for s in self.services]}


def push_sample_image(store, ref, service: str, created: datetime, sha: str = "0000000") -> str:
    """Push a tiny but real image (one gzip tar layer holding a version file, an OCI config with
    the standard labels) under ref.tag; returns its digest."""
    tag = ref.tag or "latest"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        body = f"{service} {tag}\n".encode()
        info = tarfile.TarInfo(f"app/{service}.version")
        info.size, info.mtime = len(body), 0
        tar.addfile(info, io.BytesIO(body))
    layer = gzip.compress(buf.getvalue(), mtime=0)
    diff_id = sha256(buf.getvalue())
    parsed = version.parse_tag(tag)
    labels = version.labels(parsed.version if parsed else "0.0.0", created, sha, f"https://git.example.com/{service}")
    config = canonical_json({"architecture": "amd64", "os": "linux", "created": labels[mt.L_CREATED],
                             "config": {"Labels": labels, "Cmd": [f"/app/{service}"]},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
    manifest = canonical_json({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                               "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                               "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": sha256(layer),
                                           "size": len(layer)}],
                               "annotations": {mt.L_CREATED: labels[mt.L_CREATED]}})
    store.put_blob(ref.repo, config)
    store.put_blob(ref.repo, layer)
    return store.put_manifest(ref, Manifest(mt.OCI_MANIFEST, manifest))


def run(directory: str, now: datetime) -> Demo:
    os.makedirs(os.path.join(directory, "keys"), exist_ok=True)
    signer = keys.generate("ecdsa")
    with open(os.path.join(directory, "keys", "ci.pub"), "wb") as fh:
        fh.write(signer.public.pem())
    # Unencrypted on purpose: a throw-away key, kept so that "try it yourself" can sign too.
    fd = os.open(os.path.join(directory, "keys", "ci.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(signer.pem())
    policy_file = os.path.join(directory, "shipmark.yaml")
    with open(policy_file, "w", encoding="utf-8") as fh:
        fh.write(POLICY_YAML)
    policy = policyfile.load(policy_file)
    stories = []
    for service, builds in SERVICES.items():
        repo = parse_repo(f"ocidir://{os.path.join(directory, service)}")
        store = OciDirStore(repo.registry)
        start = now - timedelta(days=len(builds))
        for n, (ver, branch, unit, acceptance) in enumerate(builds):
            built = start + timedelta(days=n, hours=n % 5)
            sha = sha256(f"{service}/{n}".encode())[7:14]   # stable across runs
            tag = version.make_tag(ver, n + 1, built, sha)
            ref = repo.with_tag(tag)
            push_sample_image(store, ref, service, built, sha)
            by = ACTOR.format(service=service, build=n + 1)
            annotate.provenance(store=store, ref=ref, now=built, by=by, git_url=f"https://git.example.com/{service}",
                                git_commit=sha, git_branch=branch, build_url=by, job=service,
                                build_number=str(n + 1), signer=signer)
            annotate.mark(store=store, ref=ref, now=built + timedelta(minutes=5), by=by, suite="unit", result=unit,
                          signer=signer)
            for chan, when in (("testing", timedelta(minutes=10)), ("stable", timedelta(hours=3))):
                if chan == "stable":
                    if acceptance is None:
                        break
                    annotate.mark(store=store, ref=ref, now=built + timedelta(hours=1), by=by,
                                  suite="acceptance", result=acceptance, url=by + "testReport/", signer=signer)
                try:
                    channel.promote(store=store, ref=ref, channel=chan, policy=policy, now=built + when, by=by,
                                    signer=signer)
                except PolicyError:
                    break
            if (service, n) == REJECTED[:2]:
                annotate.verdict(store=store, ref=ref, now=built + timedelta(hours=6),
                                 by="oncall@example.com", reject=True, reason=REJECTED[2], signer=signer)
                try:
                    channel.rollback(store=store, repo=repo, channel="stable", policy=policy,
                                     now=built + timedelta(hours=6, minutes=5), by="oncall@example.com",
                                     reason=REJECTED[2], signer=signer)
                except PolicyError:
                    pass
        forged = _forge(store, repo.with_tag(tag), now) if service == FORGED else None
        story = _tell(store, repo, policy, now, service)
        if forged is not None:
            image = load(store, repo.with_tag(tag), policy=policy, now=now)
            story.forged = dict(tag=tag, **next(u.to_json() for u in image.untrusted if u.digest == forged))
        stories.append(story)
    return Demo(directory, policy_file, stories)


def _forge(store, ref, now) -> str:
    """What anyone with push rights can do: attach an unsigned 'acceptance passed'."""
    image = load(store, ref, now=now)
    predicate = rec.test_predicate("acceptance", "passed", None, ["all"], [], [], None)
    new = rec.build(rec.TEST, image.descriptor, image.repo.name, predicate, now - timedelta(minutes=1),
                    "mallory", suite="acceptance", result="passed")
    return attach(store, image, new).digest


def _tell(store, repo, policy, now, service) -> ServiceStory:
    story = ServiceStory(service, repo.name)
    picked = channel.pick(store=store, repo=repo, channel="stable", policy=policy, now=now)
    story.stable, story.stable_tag = picked.image.pinned, picked.image.tags[0]
    story.filtered = picked.skipped
    past = channel.history(store=store, repo=repo, channel="stable", policy=policy, now=now)
    story.history = [e.to_json() for e in past.entries]
    return story
