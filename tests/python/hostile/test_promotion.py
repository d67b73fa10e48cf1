"""A registry that answers 500 to the channel-tag PUT of a promotion (a fault proxy on loopback in
front of Docker Registry 2.8): the command exits 5, nothing it leaves counts for a later
channel's `after:`, and running the promotion again converges. Tags are read with crane."""

import uuid
from datetime import datetime, timezone

import pytest
from faultproxy import FaultProxy

import servers
from shipmark.core import record as rec
from shipmark.core.ref import parse
from shipmark.ops import annotate
from shipmark.ops.demo import push_sample_image
from shipmark.ops.images import attach, load
from shipmark.stores import open_store

POLICY = """\
channels:
  testing: {require: [unit]}
  stable:  {require: [unit], after: testing}
"""
TAG = "1.0.0-b1.20261101.abcdef0"
TESTING_PUT = r"/manifests/testing$"
NOT_PROMOTED = "not promoted to 'testing' first"
NOT_CONFIRMED = ("its promotion to 'testing' is not confirmed: the 'testing' tag is not on it, and no later "
                 "promotion to 'testing' moved the tag away from it (the tag move failed, or the record was "
                 "copied from another repository); promote it to 'testing' again")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """The same retry policy with a short backoff: five 500s cost milliseconds here."""
    from shipmark.stores.registry import transport
    original = transport.make_retry
    monkeypatch.setattr(transport, "make_retry", lambda total=4, backoff=0.25: original(total, 0.001))


@pytest.fixture
def sm(cli, tmp_path):
    (tmp_path / "shipmark.yaml").write_text(POLICY)
    return cli


@pytest.fixture
def proxy(registry2):
    with FaultProxy(registry2.host) as p:
        yield p


class Repo:
    """A fresh repository on the registry, and the same one reached through the proxy."""

    def __init__(self, registry2, proxy):
        name = f"hostile/{uuid.uuid4().hex[:10]}"
        self.direct = f"{registry2.host}/{name}"
        self.via = f"{proxy.host}/{name}"
        self.store = open_store(parse(self.direct, default_tag=None))

    def push(self, tag=TAG):
        """An image whose unit suite passed; returns its digest."""
        ref = parse(f"{self.direct}:{tag}")
        digest = push_sample_image(self.store, ref, "svc", datetime(2026, 11, 1, tzinfo=timezone.utc))
        annotate.mark(store=self.store, ref=ref, now=datetime.now(timezone.utc), by="ci", suite="unit",
                      result="passed")
        return digest

    def tag_digest(self, tag):
        return tag_digest(self.direct, tag)

    def promotions(self, sm, channel, tag=TAG):
        timeline = sm("status", f"{self.direct}:{tag}", "--json").json["timeline"]
        return sum(r["kind"] == "promotion" and r.get("channel") == channel for r in timeline)

    def close(self):
        self.store.close()


@pytest.fixture
def repo(registry2, proxy):
    r = Repo(registry2, proxy)
    yield r
    r.close()


def tag_digest(repo, tag):
    """Where the tag points, as crane reads it (None when there is no such tag)."""
    out = servers.run_tool("crane", "digest", "--insecure", f"{repo}:{tag}", check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def refused(sm, image):
    out = sm("promote", image, "--to", "stable", "--json")
    assert out.code == 3, out.out
    return out.json["error"]["reasons"]


def test_a_failed_channel_tag_put_leaves_nothing_that_counts(repo, proxy, sm):
    digest = repo.push()
    proxy.fail(method="PUT", path=TESTING_PUT, times=None, status=500)
    failed = sm("promote", f"{repo.via}:{TAG}", "--to", "testing")
    assert failed.code == 5
    assert "HTTP 500" in failed.err and "Traceback" not in failed.err
    assert proxy.requests(method="PUT", path=TESTING_PUT)   # the PUT was tried, and answered 500

    assert repo.tag_digest("testing") is None
    assert repo.promotions(sm, "testing") == 0
    status = sm("status", f"{repo.direct}:{TAG}", "--json").json
    assert status["members"] == [] and status["eligible"]["stable"]["reasons"] == [NOT_PROMOTED]
    assert refused(sm, f"{repo.direct}:{TAG}") == [NOT_PROMOTED]
    assert repo.tag_digest("stable") is None

    proxy.clear()   # the registry is healthy again: the same command converges
    assert sm("promote", f"{repo.via}:{TAG}", "--to", "testing").code == 0
    assert repo.tag_digest("testing") == digest
    assert repo.promotions(sm, "testing") == 1
    assert sm("promote", f"{repo.direct}:{TAG}", "--to", "stable").code == 0
    assert repo.tag_digest("stable") == digest


def test_a_tag_put_done_but_answered_500_counts_once_a_rerun_records_it(repo, proxy, sm):
    digest = repo.push()
    proxy.fail(method="PUT", path=TESTING_PUT, times=None, status=500, applied=True)
    assert sm("promote", f"{repo.via}:{TAG}", "--to", "testing").code == 5
    assert repo.tag_digest("testing") == digest    # the registry did move it
    assert repo.promotions(sm, "testing") == 0
    assert refused(sm, f"{repo.direct}:{TAG}") == [NOT_PROMOTED]

    proxy.clear()
    assert sm("promote", f"{repo.via}:{TAG}", "--to", "testing").code == 0
    assert repo.promotions(sm, "testing") == 1
    assert sm("promote", f"{repo.direct}:{TAG}", "--to", "stable").code == 0
    assert repo.tag_digest("stable") == digest


def test_a_failed_copy_promotion_does_not_count_in_the_target(repo, proxy, sm):
    """promote --copy-to copies the image's records, its promotion into the source's testing
    among them, before it moves the target's tag: when that PUT fails, the copied record must
    not stand for a move in the target."""
    digest = repo.push()
    assert sm("promote", f"{repo.direct}:{TAG}", "--to", "testing").code == 0
    prod_direct, prod_via = repo.direct + "-prod", repo.via + "-prod"
    proxy.fail(method="PUT", path=r"-prod/manifests/testing$", times=None, status=500)
    assert sm("promote", f"{repo.via}:{TAG}", "--to", "testing", "--copy-to", prod_via).code == 5
    prod_image = f"{prod_direct}:{TAG}"
    assert sm("status", prod_image, "--json").json["digest"] == digest   # the copy is there, with records
    assert refused(sm, prod_image) == [NOT_CONFIRMED]

    proxy.clear()
    assert sm("promote", f"{repo.via}:{TAG}", "--to", "testing", "--copy-to", prod_via).code == 0
    assert tag_digest(prod_direct, "testing") == digest
    assert sm("promote", prod_image, "--to", "stable").code == 0
    assert tag_digest(prod_direct, "stable") == digest


def test_a_record_an_older_shipmark_kept_after_the_failed_put_does_not_count(repo, proxy, sm):
    """Before the tag-first order, promote wrote its record and then the tag; a 500 on the PUT
    left the record behind. Registries still hold such records."""
    digest = repo.push()
    image = load(repo.store, parse(f"{repo.direct}:{TAG}"))
    attach(repo.store, image, rec.build(rec.PROMOTION, image.descriptor, image.repo.name,
                                        {"channel": "testing", "previous": "none"}, datetime.now(timezone.utc),
                                        "shipmark 0.x", channel="testing", previous="none"))
    assert repo.tag_digest("testing") is None
    assert refused(sm, f"{repo.direct}:{TAG}") == [NOT_CONFIRMED]
    # Neither does another image moving through testing vouch for it.
    repo.push("1.0.1-b2.20261102.abcdef1")
    assert sm("promote", f"{repo.direct}:1.0.1-b2.20261102.abcdef1", "--to", "testing").code == 0
    assert refused(sm, f"{repo.direct}:{TAG}") == [NOT_CONFIRMED]

    assert sm("promote", f"{repo.via}:{TAG}", "--to", "testing").code == 0   # the rerun moves the tag
    assert repo.tag_digest("testing") == digest
    assert sm("promote", f"{repo.direct}:{TAG}", "--to", "stable").code == 0
