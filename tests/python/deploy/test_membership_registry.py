"""Channel membership on the real Docker Registry 2.8 (no referrers API): what `pick` and `plan`
return is what people promoted, not whatever the policy would admit."""

import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from deploy_history import NOW, POLICY, push_image  # noqa: E402

from shipmark.core.ref import parse_repo  # noqa: E402
from shipmark.core.services import ServicesFile  # noqa: E402
from shipmark.errors import NothingEligibleError  # noqa: E402
from shipmark.ops import annotate, channel, deploy  # noqa: E402
from shipmark.stores import open_store  # noqa: E402


@pytest.fixture
def repo(registry2):
    ref = parse_repo(f"{registry2.host}/members-{uuid.uuid4().hex[:8]}/app")
    store = open_store(ref)
    yield store, ref
    store.close()


def build(store, repo, n, acceptance="passed", unit="passed"):
    """Build n (version 1.n.0), tested; promoted to testing when unit passed."""
    when = NOW - timedelta(days=10 - n)
    ref = push_image(store, repo, "app", f"1.{n}.0", n, when)
    annotate.provenance(store=store, ref=ref, now=when, by="ci", git_branch="master", git_commit="abc1234")
    annotate.mark(store=store, ref=ref, now=when, by="ci", suite="unit", result=unit)
    if unit == "passed":
        channel.promote(store=store, ref=ref, channel="testing", policy=POLICY, now=when, by="ci")
    if acceptance:
        annotate.mark(store=store, ref=ref, now=when, by="qa", suite="acceptance", result=acceptance)
    return ref


def pick(store, repo, now=NOW):
    return channel.pick(store=store, repo=repo, channel="stable", policy=POLICY, now=now).image


def test_an_eligible_image_nobody_promoted_is_not_picked_but_a_forced_one_is(repo):
    store, ref = repo
    approved = build(store, ref, 1)
    channel.promote(store=store, ref=approved, channel="stable", policy=POLICY, now=NOW - timedelta(hours=1),
                    by="alice")
    waiting = build(store, ref, 2)            # eligible for stable, nobody approved it
    assert pick(store, ref).tags == [approved.tag]
    broken = build(store, ref, 3, acceptance="failed")
    forced = channel.promote(store=store, ref=broken, channel="stable", policy=POLICY, now=NOW, by="oncall",
                             force=True, reason="hotfix INC-9, acceptance is flaky")
    assert forced.forced and forced.promoted
    assert pick(store, ref).tags == [broken.tag]
    past = channel.history(store=store, repo=ref, channel="stable", policy=POLICY, now=NOW)
    assert [(e.image.tags[0], e.marks) for e in past.entries] == [
        (broken.tag, ["forced: hotfix INC-9, acceptance is flaky"]), (approved.tag, [])]
    assert waiting.tag not in [e.image.tags[0] for e in past.entries]


def test_rejection_and_rollback_move_membership(repo):
    store, ref = repo
    refs = [build(store, ref, n) for n in (1, 2, 3)]
    for r in refs:
        channel.promote(store=store, ref=r, channel="stable", policy=POLICY, now=NOW, by="ci")
    assert pick(store, ref).tags == [refs[2].tag]
    back = channel.rollback(store=store, repo=ref, channel="stable", policy=POLICY, now=NOW, by="oncall",
                            reason="error rate")
    assert back.to_image.tags == [refs[1].tag] and back.rejection is not None
    assert pick(store, ref).tags == [refs[1].tag]
    assert store.head_manifest(ref.with_tag("stable")).digest == back.to_image.digest
    annotate.verdict(store=store, ref=refs[1], now=NOW + timedelta(minutes=1), by="oncall", reject=True,
                     reason="same bug")
    assert pick(store, ref).tags == [refs[0].tag]    # the tag still says 1.2.0; membership says 1.1.0
    annotate.verdict(store=store, ref=refs[2], now=NOW + timedelta(minutes=2), by="oncall", reject=False,
                     reason="it was the load balancer")
    assert pick(store, ref).tags == [refs[2].tag]    # restored: a member again
    for r in refs:
        annotate.verdict(store=store, ref=r, now=NOW + timedelta(minutes=3), by="oncall", reject=True, reason="all bad")
    with pytest.raises(NothingEligibleError) as err:
        pick(store, ref)
    assert err.value.reasons[0].endswith(": all bad")


def test_a_plan_over_three_services_where_one_has_nothing_gives_two_images_and_a_reasoned_gap(registry2):
    base = f"{registry2.host}/plan3-{uuid.uuid4().hex[:8]}"
    repos = {name: parse_repo(f"{base}/{name}") for name in ("api", "web", "worker")}
    store = open_store(repos["api"])
    try:
        expected = {}
        for name in ("api", "web"):
            ref = build(store, repos[name], 1)
            channel.promote(store=store, ref=ref, channel="stable", policy=POLICY, now=NOW, by="ci")
            expected[name] = ref.tag
        build(store, repos["worker"], 1)          # eligible, never promoted
        services = ServicesFile.from_dict({"target": "prod", "services": [
            {"name": n, "repo": r.name} for n, r in sorted(repos.items())]})
        plan = deploy.plan(store_for=lambda ref: store, services=services, policy_for=lambda p, repo=None: POLICY, now=NOW)
        assert {p.service.name: p.tag for p in plan.services if p.image} == expected
        assert plan.missing == ["worker"]
        worker = plan.services[2].to_json()
        assert (worker["image"], worker["digest"]) == (None, None)
        assert worker["reasons"] == [f"channel 'stable' of {repos['worker'].name} has no member"]
        assert worker["skipped"][0]["reasons"] == ["never promoted to 'stable'",
                                                   "the policy admits it: shipmark promote IMAGE --to stable"]
    finally:
        store.close()
