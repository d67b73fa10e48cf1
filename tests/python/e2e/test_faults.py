"""Fault injection: every request `promote` makes is failed (503) or dropped in turn; then
promote runs again without faults, and the end state must be the same as a clean run's: the
channel tag on the image, exactly one promotion record, and nothing else moved."""

import uuid
from datetime import datetime, timezone

import pytest
from faultproxy import FaultProxy

from shipmark.core.ref import parse
from shipmark.ops import annotate, inspect
from shipmark.ops.demo import push_sample_image
from shipmark.core.policy import Policy

NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)


@pytest.fixture
def proxy(registry_store):
    with FaultProxy(registry_store.server.host) as p:
        yield p


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """The same retry policy with a short backoff, so an outage costs milliseconds here."""
    from shipmark.stores.registry import transport
    original = transport.make_retry
    monkeypatch.setattr(transport, "make_retry", lambda total=4, backoff=0.25: original(total, 0.001))


def prepared_image(case):
    """A fresh repository with one image whose unit suite passed, written around the proxy."""
    repo = parse(f"{case.server.host}/faults/{uuid.uuid4().hex[:10]}", default_tag=None)
    ref = repo.with_tag("1.0.0-b1.20261101.abcdef0")
    push_sample_image(case.store, ref, "svc", NOW)
    annotate.mark(store=case.store, ref=ref, now=NOW, by="ci", suite="unit", result="passed")
    return ref


def through(proxy, ref):
    return f"{proxy.host}/{ref.repository}:{ref.tag}"


def end_state(case, ref):
    # Read with the real clock: promote dates its record now, and records from the future do not count.
    st = inspect.status(store=case.store, ref=ref, policy=Policy.open(), now=datetime.now(timezone.utc))
    promotions = [r for r in st.image.records if r.kind == "promotion" and r.channel == "testing"]
    channel_digest = case.store.head_manifest(ref.repo.with_tag("testing")).digest
    return channel_digest == st.image.digest, len(promotions)


def test_promote_converges_after_any_failed_request(registry_store, proxy, sm):
    clean = prepared_image(registry_store)
    assert sm("promote", through(proxy, clean), "--to", "testing").code == 0
    steps = [(e.method, e.path) for e in proxy.requests()]
    assert end_state(registry_store, clean) == (True, 1)
    assert len(steps) >= 4

    outcomes = []
    for nth in range(1, len(steps) + 1):
        for action in ("fail", "drop"):
            ref = prepared_image(registry_store)
            proxy.clear()
            # From request nth on, the registry is unreachable: a real outage mid-promotion.
            getattr(proxy, action)(nth=nth, times=None)
            first = sm("promote", through(proxy, ref), "--to", "testing")
            assert first.code in (0, 5), first.err            # never a crash or a traceback
            assert "Traceback" not in first.err
            proxy.clear()
            second = sm("promote", through(proxy, ref), "--to", "testing")
            assert second.code == 0, (nth, action, steps[nth - 1], second.err)
            assert end_state(registry_store, ref) == (True, 1), (nth, action, steps[nth - 1])
            outcomes.append(first.code)
    assert 5 in outcomes   # the outage really broke some first runs


def test_transient_faults_are_retried_invisibly(registry_store, proxy, sm):
    ref = prepared_image(registry_store)
    proxy.fail(method="GET", path=r"/manifests/", times=1)
    proxy.drop(method="HEAD", path=r"/manifests/", times=1)
    proxy.fail(method="PUT", path=r"/manifests/testing$", times=2)
    assert sm("promote", through(proxy, ref), "--to", "testing").code == 0
    assert end_state(registry_store, ref) == (True, 1)
    assert [e.action for e in proxy.requests(method="PUT", path=r"/manifests/testing$")] == \
        ["fail", "fail", "forward"]
