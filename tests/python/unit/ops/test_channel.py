from datetime import timedelta

import pytest

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


def test_rerun_after_tag_move_failed_reuses_the_record(store, build, monkeypatch):
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


def test_dry_run_changes_nothing(store, build):
    ref = build(1)
    tags_before = store.list_tags(ref.repo)
    result = promote(store, ref, "testing", dry_run=True)
    assert result.dry_run and not result.promoted
    assert store.list_tags(ref.repo) == tags_before


def test_force_needs_a_reason_and_is_recorded(store, build):
    ref = build(1, unit="failed")
    with pytest.raises(InputError, match="--force needs --reason"):
        promote(store, ref, "testing", force=True)
    result = promote(store, ref, "testing", force=True, reason="hotfix for INC-42")
    assert result.promoted and result.forced
    assert result.decision.reasons == ["required suite 'unit' failed"]


def test_pick_returns_newest_eligible_and_skips_rejected(store, build):
    repo = _repo(store)
    for n in range(1, 6):
        promote(store, build(n, acceptance="passed"), "testing")
    newest = repo.with_tag("1.0.5-b5.20261101.abcdef5")
    annotate.verdict(store=store, ref=newest, now=NOW, by="oncall", reject=True, reason="crash loop")
    picked = channel.pick(store=store, repo=repo, channel="stable", policy=POLICY, now=NOW)
    assert picked.image.tags == ["1.0.4-b4.20261101.abcdef4"]
    assert picked.skipped[0]["reasons"][0].startswith("rejected by oncall")


def test_pick_stops_early_instead_of_reading_every_tag(store, build):
    for n in range(1, 60):
        build(n, unit="passed")
    repo = _repo(store)
    store.heads.clear()
    picked = channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW)
    assert picked.image.tags == ["1.0.59-b59.20261101.abcdef9"]
    assert len(store.heads) <= 16   # the first concurrent round only, not all 59 tags


def test_pick_with_nothing_eligible_lists_why(store, build):
    build(1, unit="failed")
    with pytest.raises(NothingEligibleError) as err:
        channel.pick(store=store, repo=_repo(store), channel="testing", policy=POLICY, now=NOW)
    assert err.value.reasons == ["1.0.1-b1.20261101.abcdef1: required suite 'unit' failed"]
    assert err.value.exit_code == 3


def test_rollback_goes_to_previous_good_image_and_rejects_the_bad_one(store, build):
    repo = _repo(store)
    for n in (1, 2, 3):
        promote(store, build(n), "testing", now=NOW + timedelta(minutes=n))
    history = channel.history(store=store, repo=repo, channel="testing")
    assert [e.image.tags[0][:5] for e in history.entries] == ["1.0.3", "1.0.2", "1.0.1"]
    back = channel.rollback(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW + timedelta(1),
                            by="oncall", reason="500s")
    assert back.to_image.tags[0].startswith("1.0.2")
    assert store.head_manifest(repo.with_tag("testing")).digest == back.to_image.digest
    picked = channel.pick(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW + timedelta(1))
    assert picked.image.digest == back.to_image.digest   # the rolled-away image does not come back


def test_copy_to_another_layout_keeps_digest_and_records(store, build, tmp_path):
    ref = build(1)
    other = parse_repo(f"ocidir://{tmp_path}/prod")
    other_store = OciDirStore(other.registry)
    result = promote(store, ref, "testing", copy_to=other, copy_store=other_store)
    assert result.copied_to == f"{other.name}@{result.image.digest}"
    copied = inspect.status(store=other_store, ref=other.with_tag("testing"), policy=POLICY, now=NOW)
    assert copied.image.digest == store.head_manifest(ref).digest
    assert {r.kind for r in copied.image.records} == {"provenance", "test", "promotion"}


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

