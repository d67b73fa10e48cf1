from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipmark.core import version
from shipmark.core.ref import TAG_RE
from shipmark.errors import InputError

WHEN = datetime(2026, 11, 28, 23, 59, tzinfo=timezone.utc)


def test_make_tag_carries_version_build_date_and_sha():
    assert version.make_tag("1.4.2", 123, WHEN, "ABC1234DEF") == "1.4.2-b123.20261128.abc1234"


def test_sort_puts_1_10_after_1_9_and_build_10_after_9():
    tags = ["1.9.0-b1.20261101", "1.10.0-b9.20261101", "1.10.0-b10.20261101", "stable", "latest"]
    assert version.sort_newest_first(tags) == ["1.10.0-b10.20261101", "1.10.0-b9.20261101", "1.9.0-b1.20261101"]


def test_pre_release_sorts_before_release():
    assert version.sort_newest_first(["2.0.0-rc.1-b5.20261101", "2.0.0-b1.20261101"])[0] == "2.0.0-b1.20261101"


def test_labels_are_the_standard_oci_keys():
    labels = version.labels("1.4.2", WHEN, "abc", "https://git/x")
    assert labels == {"org.opencontainers.image.version": "1.4.2",
                      "org.opencontainers.image.created": "2026-11-28T23:59:00Z",
                      "org.opencontainers.image.revision": "abc",
                      "org.opencontainers.image.source": "https://git/x"}


@pytest.mark.parametrize("bad", ["", "one", "1.2.3.4.5", "1.2;rm", "1..2"])
def test_make_tag_rejects_bad_versions(bad):
    with pytest.raises(InputError):
        version.make_tag(bad, 1, WHEN, None)


versions = st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))
builds = st.integers(0, 10**6)
shas = st.text("0123456789abcdef", min_size=7, max_size=7)


@given(versions, builds, shas)
def test_every_made_tag_is_a_valid_docker_tag_and_parses_back(v, build, sha):
    tag = version.make_tag(".".join(map(str, v)), build, WHEN, sha)
    assert TAG_RE.match(tag)
    parsed = version.parse_tag(tag)
    assert parsed.numbers == v and parsed.build == build and parsed.sha == sha


@given(st.lists(st.tuples(versions, builds), min_size=1, max_size=30, unique=True))
def test_order_matches_numeric_version_then_build(items):
    tags = [version.make_tag(".".join(map(str, v)), b, WHEN, None) for v, b in items]
    expected = [version.make_tag(".".join(map(str, v)), b, WHEN, None)
                for v, b in sorted(items, reverse=True)]
    assert version.sort_newest_first(tags) == expected


@given(st.lists(st.tuples(versions, builds), min_size=1, max_size=40, unique=True), st.data())
def test_an_order_merged_with_what_was_known_equals_one_sorted_from_scratch(items, data):
    """What a repository cache remembers (an earlier answer) changes only the cost: tags added,
    deleted, or a non-version tag among them give the same order as a fresh sort."""
    tags = [version.make_tag(".".join(map(str, v)), b, WHEN, None) for v, b in items]
    earlier = data.draw(st.lists(st.sampled_from(tags), unique=True))
    now = data.draw(st.lists(st.sampled_from(tags), unique=True)) + ["stable", "deployed.prod"]
    known, _ = version.order(earlier)
    ascending, others = version.order(now, known)
    assert ascending[::-1] == version.sort_newest_first(now)
    assert others == ["deployed.prod", "stable"]


def test_a_merge_parses_only_the_new_tags(monkeypatch):
    tags = [version.make_tag(f"1.0.{n}", n, WHEN, None) for n in range(1000)]
    known, _ = version.order(tags)
    parsed = []
    real = version.order_key
    monkeypatch.setattr(version, "order_key", lambda t: parsed.append(t) or real(t))
    newest = version.make_tag("1.0.1000", 1000, WHEN, None)
    ascending, others = version.order(tags + [newest, "stable"], known)
    assert ascending[-1] == newest and ascending[:-1] == known and others == ["stable"]
    assert len(parsed) < 20   # the two new tags and a binary search, not 1,000 parses


def test_a_remembered_order_that_is_not_one_is_sorted_again():
    tags = ["1.0.0-b1.20261101", "1.0.1-b2.20261101", "stable"]
    ascending, others = version.order(tags, ["stable", "1.0.1-b2.20261101"])
    assert ascending == ["1.0.0-b1.20261101", "1.0.1-b2.20261101"] and others == ["stable"]
