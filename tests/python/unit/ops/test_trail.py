"""`after:` counts a promotion only once the registry shows its channel tag moved (ops/trail.py)."""

from datetime import timedelta

import pytest

from shipmark.core import record as rec
from shipmark.errors import PolicyError
from shipmark.ops import channel, inspect
from shipmark.ops.images import attach, load

from ops_support import NOW, POLICY

LATER = NOW + timedelta(hours=1)
NOT_CONFIRMED = ("its promotion to 'testing' is not confirmed: the 'testing' tag is not on it, and no later "
                 "promotion to 'testing' moved the tag away from it (the tag move failed, or the record was "
                 "copied from another repository); promote it to 'testing' again")


def promote(store, ref, to, minute, **kw):
    return channel.promote(store=store, ref=ref, channel=to, policy=POLICY, now=NOW + timedelta(minutes=minute),
                           by="tester", **kw)


def stable_reasons(store, ref):
    return inspect.status(store=store, ref=ref, policy=POLICY, now=LATER).eligible["stable"].reasons


def leftover_promotion(store, ref, to, minute):
    """A promotion record without the tag move: what a shipmark that wrote the record first left
    when the tag PUT failed, or what a copy brings from another repository."""
    image = load(store, ref)
    attach(store, image, rec.build(rec.PROMOTION, image.descriptor, image.repo.name, {"channel": to},
                                   NOW + timedelta(minutes=minute), "old-shipmark", channel=to, previous="none"))


def test_an_image_the_channel_moved_on_from_still_counts(store, build):
    refs = [build(n, acceptance="passed") for n in (1, 2, 3)]
    for minute, ref in enumerate(refs, 1):
        promote(store, ref, "testing", minute)
    assert stable_reasons(store, refs[0]) == []   # testing: 3 <- 2 <- 1
    assert promote(store, refs[0], "stable", 10).promoted


def test_a_promotion_record_without_the_tag_move_does_not_count(store, build):
    ref = build(1, acceptance="passed")
    leftover_promotion(store, ref, "testing", 1)
    assert stable_reasons(store, ref) == [NOT_CONFIRMED]
    with pytest.raises(PolicyError) as err:
        promote(store, ref, "stable", 2)
    assert err.value.reasons == [NOT_CONFIRMED]
    assert "stable" not in store.list_tags(ref.repo)
    # Not even after other images moved through the channel: none of them moved it away from this one.
    other = build(2)
    promote(store, other, "testing", 3)
    assert stable_reasons(store, ref) == [NOT_CONFIRMED]
    # Promoting it again moves the tag; from then on it counts.
    assert promote(store, ref, "testing", 4).promoted
    assert promote(store, ref, "stable", 5).promoted


def test_the_walk_follows_a_rollback_back_to_the_image(store, build, repo):
    refs = [build(n, acceptance="passed") for n in (1, 2, 3, 4)]
    for minute, ref in enumerate(refs[:3], 1):
        promote(store, ref, "testing", minute)
    channel.rollback(store=store, repo=repo, channel="testing", policy=POLICY, now=NOW + timedelta(minutes=5),
                     by="oncall", reason="500s")   # 3 rejected, testing back on 2
    promote(store, refs[3], "testing", 6)
    # testing: 4 <- 2 (rollback) <- 3 <- 2 <- 1: image 2 is on the trail twice, 1 only past both.
    assert stable_reasons(store, refs[0]) == []
    assert stable_reasons(store, refs[1]) == []


def test_a_tag_moved_by_another_tool_ends_the_trail(store, build, repo):
    refs = [build(n, acceptance="passed") for n in (1, 2)]
    promote(store, refs[0], "testing", 1)
    # Someone moves testing by hand (crane tag, docker push) to an image without a promotion record.
    store.put_manifest(repo.with_tag("testing"), store.get_manifest(refs[1]))
    assert stable_reasons(store, refs[0]) == [NOT_CONFIRMED]


def test_the_walk_stops_at_the_image_s_own_promotion(store, build, repo):
    refs = [build(n, acceptance="passed") for n in range(1, 13)]
    for hour, ref in enumerate(refs[:10], 1):
        promote(store, ref, "testing", 60 * hour)
    leftover_promotion(store, refs[11], "testing", 60 * 8 + 30)    # between the promotions of 8 and 9
    tags = {store.head_manifest(r).digest: r.tag[:6] for r in refs}
    store.heads.clear()
    with pytest.raises(PolicyError):
        channel.promote(store=store, ref=refs[11], channel="stable", policy=POLICY, now=NOW + timedelta(days=1),
                        by="tester")
    # The tag is on 10, moved there from 9, moved there from 8; the move to 8 is older than the
    # record of 12, so nothing further back can have moved the tag away from 12: 7 to 1 stay unread.
    assert sorted(tags[h] for h in store.heads if h in tags) == ["1.0.10", "1.0.8-", "1.0.9-"]
