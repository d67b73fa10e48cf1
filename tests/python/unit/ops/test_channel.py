from datetime import timedelta

import pytest

from shipmark.core.policy import Policy
from shipmark.core.ref import parse_repo
from shipmark.errors import InputError, NothingEligibleError, PolicyError
from shipmark.ops import annotate, channel, inspect
from shipmark.stores.ocidir import OciDirStore

from ops_support import NOW, POLICY


def promote(store, ref, to, now=NOW, **kw):
    return channel.promote(store=store, ref=ref, channel=to, policy=POLICY, now=now, by="tester", **kw)


def test_promote_refuses_with_every_reason(store, build):
    ref = build(1, unit="failed")
    with pytest.raises(PolicyError) as err:
        promote(store, ref, "stable")
    assert err.value.reasons == ["required suite 'acceptance' has no result", "not promoted to 'testing' first"]
    assert "stable" not in store.list_tags(ref.repo)


def test_promote_moves_the_channel_tag_byte_exact_and_records_it(store, build):
    ref = build(1, acceptance="passed")
    promote(store, ref, "testing")
    result = promote(store, ref, "stable")
    assert result.promoted and result.record.channel == "stable"
    image = store.get_manifest(ref)
    assert store.get_manifest(ref.repo.with_tag("stable")).raw == image.raw
    assert [r.channel for r in result.image.records if r.kind == "promotion"] == ["testing", "stable"]


def test_promote_rerun_is_a_no_op(store, build):
    ref = build(1)
    promote(store, ref, "testing")
    again = promote(store, ref, "testing")
    assert again.already and not again.promoted
    status = inspect.status(store=store, ref=ref, policy=POLICY, now=NOW)
    assert sum(r.kind == "promotion" for r in status.image.records) == 1


def test_rerun_after_tag_move_failed_writes_one_record(store, build, monkeypatch):
    ref = build(1)
    real_put = store.put_manifest

    def fail_on_channel(target, manifest):
        if target.tag == "testing":
            raise OSError("disk full")
        return real_put(target, manifest)

    monkeypatch.setattr(store, "put_manifest", fail_on_channel)
    with pytest.raises(OSError):
        promote(store, ref, "testing")
    monkeypatch.setattr(store, "put_manifest", real_put)
    result = promote(store, ref, "testing")
    assert result.promoted
    records = inspect.status(store=store, ref=ref, policy=POLICY, now=NOW).image.records
    assert sum(r.kind == "promotion" for r in records) == 1
    assert store.head_manifest(ref.repo.with_tag("testing")).digest == result.image.digest


def test_a_promotion_whose_record_failed_does_not_count_until_a_rerun_writes_it(store, build, monkeypatch):
    ref = build(1)
    repo = _repo(store)

    def fail(*a, **kw):
        raise OSError("registry went away")
    monkeypatch.setattr(channel, "attach", fail)
    with pytest.raises(OSError):
        promote(store, ref, "testing")
    monkeypatch.undo()
    assert store.head_manifest(repo.with_tag("testing")).digest == store.head_manifest(ref).digest
    with pytest.raises(NothingEligibleError):   # the tag moved, but no record: not a member yet
        channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW)
    result = promote(store, ref, "testing")
    assert result.promoted and not result.already
    assert channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW).image.digest == \
        result.image.digest
    again = promote(store, ref, "testing")
    assert again.already
    records = inspect.status(store=store, ref=ref, policy=POLICY, now=NOW).image.records
    assert sum(r.kind == "promotion" for r in records) == 1


def test_dry_run_changes_nothing(store, build):
    ref = build(1)
    tags_before = store.list_tags(ref.repo)
    result = promote(store, ref, "testing", dry_run=True)
    assert result.dry_run and not result.promoted
    assert store.list_tags(ref.repo) == tags_before


def test_force_needs_a_reason_and_is_recorded(store, build):
    ref = build(1, unit="failed")
    with pytest.raises(InputError, match="forced promotion needs a reason"):
        promote(store, ref, "testing", force=True)
    result = promote(store, ref, "testing", force=True, reason="hotfix for INC-42")
    assert result.promoted and result.forced
    assert result.decision.reasons == ["required suite 'unit' failed"]


def test_pick_returns_the_newest_member_and_skips_rejected(store, build):
    repo = _repo(store)
    for n in range(1, 6):
        ref = build(n, acceptance="passed")
        promote(store, ref, "testing")
        promote(store, ref, "stable")
    newest = repo.with_tag("1.0.5-b5.20261101.abcdef5")
    annotate.verdict(store=store, ref=newest, now=NOW, by="oncall", reject=True, reason="crash loop")
    picked = channel.pick(store=store, repo=repo, channel="stable", policy=POLICY, now=NOW)
    assert picked.image.tags == ["1.0.4-b4.20261101.abcdef4"]
    assert picked.skipped[0]["reasons"][0].startswith("rejected by oncall")
    assert picked.skipped[0]["reasons"][0].endswith(": crash loop")


def test_an_eligible_image_that_nobody_promoted_is_not_picked(store, build):
    repo = _repo(store)
    old = build(1, acceptance="passed")
    promote(store, old, "testing")
    promote(store, old, "stable")
    newer = build(2, acceptance="passed")
    promote(store, newer, "testing")   # eligible for stable from here on, but not promoted
    picked = channel.pick(store=store, repo=repo, channel="stable", policy=POLICY, now=NOW)
    assert picked.image.tags == [old.tag]
    assert picked.skipped == [{"tag": newer.tag, "digest": store.head_manifest(newer).digest,
                               "reasons": ["never promoted to 'stable'",
                                           "the policy admits it: shipmark promote IMAGE --to stable"],
                               "untrusted": []}]


def test_a_forced_promotion_is_a_member_and_promoting_it_again_says_already(store, build):
    repo = _repo(store)
    ref = build(1, unit="failed")
    forced = promote(store, ref, "testing", force=True, reason="INC-42 hotfix")
    assert forced.forced
    assert channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW).image.tags == [ref.tag]
    again = promote(store, ref, "testing")
    assert again.already and not again.promoted
    past = channel.history(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW)
    assert past.entries[0].marks == ["forced: INC-42 hotfix"]
    assert past.to_json()["entries"][0]["forced"] is True


def test_an_auto_channel_holds_the_newest_image_its_policy_admits(store, build):
    auto = Policy.from_dict({"channels": {"testing": {"require": ["unit"], "auto": True}}}, "auto.yaml")
    for n in range(1, 60):
        build(n, unit="passed")
    repo = _repo(store)
    store.heads.clear()
    picked = channel.pick(store=store, repo=repo, channel="testing", policy=auto, now=NOW)
    assert picked.image.tags == ["1.0.59-b59.20261101.abcdef9"]
    assert len(store.heads) <= 16   # the first concurrent round only, not all 59 tags


def test_pick_stops_at_the_first_member(store, build):
    refs = [build(n, unit="passed") for n in range(1, 40)]
    promote(store, refs[-1], "testing")
    store.heads.clear()
    picked = channel.pick(store=store, repo=_repo(store), channel="testing", policy=POLICY, now=NOW)
    assert picked.image.tags == [refs[-1].tag]
    assert len(store.heads) <= 16


def test_pick_with_no_member_lists_why(store, build):
    build(1, unit="failed")
    with pytest.raises(NothingEligibleError) as err:
        channel.pick(store=store, repo=_repo(store), channel="testing", policy=POLICY, now=NOW)
    assert err.value.reasons == ["1.0.1-b1.20261101.abcdef1: never promoted to 'testing'; "
                                 "required suite 'unit' failed"]
    assert "--force --reason" in err.value.hint
    assert err.value.exit_code == 3


def test_rollback_rejects_the_tagged_image_and_moves_to_the_previous_member(store, build):
    repo = _repo(store)
    for n in (1, 2, 3):
        promote(store, build(n), "testing", now=NOW + timedelta(minutes=n))
    history = channel.history(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW)
    assert [e.image.tags[0][:5] for e in history.entries] == ["1.0.3", "1.0.2", "1.0.1"]
    back = channel.rollback(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW + timedelta(1),
                            by="oncall", reason="500s")
    assert back.to_image.tags[0].startswith("1.0.2") and back.rejection is not None
    assert store.head_manifest(repo.with_tag("testing")).digest == back.to_image.digest
    picked = channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW + timedelta(1))
    assert picked.image.digest == back.to_image.digest   # the rolled-away image does not come back
    past = channel.history(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW + timedelta(1))
    assert past.current == back.to_image.digest
    assert past.entries[0].marks == ["rollback: 500s"]
    assert past.entries[1].rejection.endswith("rolled back: 500s")


def test_rejecting_the_member_moves_the_channel_to_the_previous_one(store, build):
    repo = _repo(store)
    refs = [build(n) for n in (1, 2)]
    for ref in refs:
        promote(store, ref, "testing")
    annotate.verdict(store=store, ref=refs[1], now=NOW, by="oncall", reject=True, reason="leaks memory")
    assert channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW).image.tags == [refs[0].tag]
    annotate.verdict(store=store, ref=refs[1], now=NOW + timedelta(minutes=1), by="oncall", reject=False,
                     reason="it was the host")
    assert channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW).image.tags == [refs[1].tag]


def test_promote_to_a_channel_the_policy_does_not_name_is_bad_input(store, build):
    with pytest.raises(InputError, match="channel 'qa' is not in shipmark.yaml") as err:
        promote(store, build(1), "qa")
    assert err.value.exit_code == 2


def test_copy_to_another_layout_keeps_digest_and_records(store, build, tmp_path):
    ref = build(1)
    other = parse_repo(f"ocidir://{tmp_path}/prod")
    other_store = OciDirStore(other.registry)
    result = promote(store, ref, "testing", copy_to=other, copy_store=other_store)
    assert result.copied_to == f"{other.name}@{result.image.digest}"
    copied = inspect.status(store=other_store, ref=other.with_tag("testing"), policy=POLICY, now=NOW)
    assert copied.image.digest == store.head_manifest(ref).digest
    assert {r.kind for r in copied.image.records} == {"provenance", "test", "promotion"}
    assert ref.tag in other_store.list_tags(other)   # the version tag came along: list and pick find it
    listed = inspect.list_images(store=other_store, repo=other)
    assert [i.tags for i in listed.images] == [[ref.tag]]
    assert channel.pick(store=other_store, repo=other, channel="testing", policy=POLICY, now=NOW).image.digest == \
        copied.image.digest


def test_list_filters_by_state_and_suite(store, build):
    build(1, unit="passed")
    build(2, unit="failed")
    build(3, unit=None)
    repo = _repo(store)
    everything = inspect.list_images(store=store, repo=repo)
    assert [i.tags[0][:5] for i in everything.images] == ["1.0.3", "1.0.2", "1.0.1"]
    failed = inspect.list_images(store=store, repo=repo, state="failed")
    assert [i.tags[0][:5] for i in failed.images] == ["1.0.2"]
    untested = inspect.list_images(store=store, repo=repo, where=["unit=none"])
    assert [i.tags[0][:5] for i in untested.images] == ["1.0.3"]
    with pytest.raises(InputError, match="is not SUITE=RESULT"):
        inspect.list_images(store=store, repo=repo, where=["unit"])


def _repo(store):
    return parse_repo(f"ocidir://{store.path}")



def test_reject_names_the_channel_tags_on_the_image_and_skips_channel_names_no_tag_can_have(store, build):
    from shipmark.core import record as rec
    from shipmark.ops.images import attach, load
    ref = build(1)
    promote(store, ref, "testing")
    image = load(store, ref)
    odd = "qa/testing"   # a valid record name, but no tag is called that
    attach(store, image, rec.build(rec.PROMOTION, image.descriptor, image.repo.name, {"channel": odd}, NOW, "x",
                                   channel=odd))
    out = channel.reject(store=store, ref=ref, now=NOW + timedelta(minutes=1), by="oncall", reason="leaks")
    assert out.channels == ["testing"] and out.rollbacks == [] and out.stuck == {}
    assert out.verdict.image.state.rejected
