from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipmark.core.policy import Policy, evaluate
from shipmark.core.record import Record
from shipmark.core.state import fold
from shipmark.errors import InputError

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
POLICY = Policy.from_dict({"channels": {
    "testing": {"require": ["unit"]},
    "stable": {"require": ["acceptance"], "block_on": ["security"], "after": "testing",
               "min_age": "2h", "branches": ["master"]},
}}, "shipmark.yaml")


def rec(kind, minutes_ago, n=0, **kw):
    created = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return Record(digest=f"sha256:{n:064x}", kind=kind, created=created, **kw)


def good_history():
    return [rec("provenance", 300, 1, branch="origin/master"), rec("test", 290, 2, suite="unit", result="passed"),
            rec("promotion", 280, 3, channel="testing"), rec("test", 200, 4, suite="acceptance", result="passed")]


def test_image_meeting_every_rule_is_eligible():
    state = fold(good_history(), moved={"testing"})
    decision = evaluate(POLICY, "stable", state, NOW, NOW - timedelta(minutes=300))
    assert decision.ok and decision.reasons == []


def test_every_unmet_rule_gives_its_own_reason():
    state = fold([rec("provenance", 30, 1, branch="feature/x"), rec("test", 20, 2, suite="acceptance", result="failed"),
                  rec("test", 10, 3, suite="security", result="failed")])
    decision = evaluate(POLICY, "stable", state, NOW, NOW - timedelta(minutes=30))
    assert not decision.ok
    assert decision.reasons == [
        "required suite 'acceptance' failed",
        "blocking suite 'security' failed",
        "not promoted to 'testing' first",
        "only 30m old, min_age is 2h",
        "built from branch 'feature/x', allowed: master",
    ]


def test_after_needs_the_registry_to_confirm_the_tag_moved():
    # A promotion record into testing is not enough: the reader must confirm the tag was moved.
    unconfirmed = evaluate(POLICY, "stable", fold(good_history()), NOW, NOW - timedelta(minutes=300))
    assert unconfirmed.reasons == ["its promotion to 'testing' is not confirmed: the 'testing' tag is not on it, "
                                   "and no later promotion to 'testing' moved the tag away from it (the tag move "
                                   "failed, or the record was copied from another repository); promote it to "
                                   "'testing' again"]
    # Confirmation without a record counts for nothing either.
    bare = [r for r in good_history() if r.kind != "promotion"]
    assert evaluate(POLICY, "stable", fold(bare, moved={"testing"}), NOW,
                    NOW - timedelta(minutes=300)).reasons == ["not promoted to 'testing' first"]


def test_newest_test_record_wins_and_ties_break_by_digest():
    state = fold(good_history() + [rec("test", 100, 9, suite="acceptance", result="failed")])
    assert state.result("acceptance") == "failed"
    tie = fold([rec("test", 5, 7, suite="unit", result="passed"), rec("test", 5, 8, suite="unit", result="failed")])
    assert tie.result("unit") == "failed"   # same time: the larger digest is newer


def test_rejected_image_is_never_eligible_until_restored():
    rejected = good_history() + [rec("rejection", 50, 10, by="oncall")]
    decision = evaluate(POLICY, "stable", fold(rejected), NOW, NOW - timedelta(hours=5))
    assert not decision.ok and decision.reasons[0].startswith("rejected by oncall")
    restored = rejected + [rec("restoration", 40, 11, restores=(f"sha256:{10:064x}",))]
    assert evaluate(POLICY, "stable", fold(restored, moved={"testing"}), NOW, NOW - timedelta(hours=5)).ok


def test_restoration_undoes_only_the_rejections_it_names_whatever_its_date():
    first = rec("rejection", 50, 10)
    later_restoration = rec("restoration", -10_000, 11, restores=(first.digest,))   # dated far ahead
    second = rec("rejection", 5, 12)
    assert not fold([first, later_restoration]).rejected
    state = fold([first, later_restoration, second])
    assert state.rejected and [r.digest for r in state.rejections] == [second.digest]
    assert fold([first, rec("restoration", 40, 13)]).rejected   # no names: undoes nothing


def test_open_policy_admits_anything_not_rejected():
    assert evaluate(Policy.open(), "anything", fold([]), NOW).ok
    assert not evaluate(Policy.open(), "anything", fold([rec("rejection", 1)]), NOW).ok


def test_unknown_channel_names_the_defined_ones():
    with pytest.raises(InputError, match="'prod' is not in shipmark.yaml") as err:
        POLICY.channel("prod")
    assert "stable, testing" in err.value.hint


@pytest.mark.parametrize("data, message", [
    ({"channels": {"stable": {"min_age": "2 hours"}}}, "channels.stable.min_age: expected a duration like 2h, got '2 hours'"),
    ({"channels": {"stable": {"requires": ["a"]}}}, "channels.stable.requires: unknown key"),
    ({"channels": {"stable": {"require": "a b"}}, "extra": 1}, "extra: unknown key"),
    ({"channels": {"stable": {"require": [1]}}}, "channels.stable.require: expected a list of names"),
    ({"channels": {"stable": {"after": "testing"}}}, "channels.stable.after: names channel 'testing', which is not defined"),
    ({"channels": []}, "channels: expected a mapping"),
    (["x"], "(top): expected a mapping"),
])
def test_policy_errors_name_the_path(data, message):
    with pytest.raises(InputError) as err:
        Policy.from_dict(data, "shipmark.yaml")
    assert message in err.value.message


kinds = st.sampled_from(["test", "rejection", "restoration"])
events = st.lists(st.tuples(kinds, st.integers(0, 1000), st.sampled_from(["passed", "failed"])), max_size=20)


@given(events)
def test_fold_does_not_depend_on_record_order(items):
    records = [rec(k, m, n, suite="unit" if k == "test" else None, result=r if k == "test" else None)
               for n, (k, m, r) in enumerate(items)]
    forward, backward = fold(records), fold(list(reversed(records)))
    assert forward.rejected == backward.rejected
    assert forward.result("unit") == backward.result("unit")


@given(events)
def test_rejected_images_are_never_eligible(items):
    records = [rec(k, m, n, suite="unit" if k == "test" else None, result=r if k == "test" else None)
               for n, (k, m, r) in enumerate(items)]
    state = fold(records)
    if state.rejected:
        assert not evaluate(Policy.open(), "stable", state, NOW).ok
