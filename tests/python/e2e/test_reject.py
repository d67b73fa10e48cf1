"""Rejecting an image a channel tag points at: `reject` says so and names the rollback command;
`reject --rollback` moves every such channel back. Tags are read with skopeo, a peer client."""

import hashlib
import shlex

import servers


def tag_digest(store, tag):
    """Where `tag` points, as skopeo reads it (the digest of the raw manifest)."""
    raw = servers.run_tool("skopeo", "inspect", "--raw", *store.skopeo_flags(), store.skopeo_ref(tag)).stdout
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def in_both_channels(sm, push, n):
    """Build n, passed every suite and promoted to testing, then stable; returns (ref, digest)."""
    ref = push(n)
    assert sm("record", ref, "--git-branch", "master", "--git-commit", f"{n:040x}").code == 0
    for suite in ("unit", "acceptance"):
        assert sm("mark", ref, "--suite", suite, "--result", "passed").code == 0
    assert sm("promote", ref, "--to", "testing").code == 0
    promoted = sm("promote", ref, "--to", "stable", "--json")
    assert promoted.code == 0, promoted.err
    return ref, promoted.json["digest"]


def test_reject_names_each_channel_still_on_the_image_and_the_command_that_rolls_it_back(store, sm, push):
    good, good_digest = in_both_channels(sm, push, 1)
    bad, bad_digest = in_both_channels(sm, push, 2)
    out = sm("reject", bad, "--reason", "leaks memory; see INC-7")
    assert out.code == 0, out.err
    repo = store.repo.name
    commands = [f"shipmark rollback {repo} --channel {c} --reason 'leaks memory; see INC-7'"
                for c in ("stable", "testing")]
    for channel, command in zip(("stable", "testing"), commands):
        assert f"{repo}:{channel} still points at the rejected image" in out.err
        assert f"\n  {command}\n" in out.err
    assert tag_digest(store, "stable") == bad_digest   # reject alone moves no tag
    # What it printed runs as it is.
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "shipmark"
        assert sm(*argv[1:]).code == 0
    assert tag_digest(store, "stable") == tag_digest(store, "testing") == good_digest


def test_reject_of_an_image_no_channel_points_at_says_nothing_more(store, sm, push):
    in_both_channels(sm, push, 1)
    newer = push(2)
    out = sm("reject", newer, "--reason", "broken build", "--json")
    assert out.code == 0 and out.err == ""
    assert out.json["channels"] == []


def test_reject_rollback_moves_every_channel_back_in_one_step(store, sm, push):
    _, good_digest = in_both_channels(sm, push, 1)
    bad, bad_digest = in_both_channels(sm, push, 2)
    out = sm("reject", bad, "--reason", "crash loop", "--rollback", "--json")
    assert out.code == 0, out.err
    assert out.err == ""
    assert [(c["channel"], c["rolled_back"], c["rollback_command"]) for c in out.json["channels"]] == \
        [("stable", True, None), ("testing", True, None)]
    assert [r["to"] for r in out.json["rollbacks"]] == [f"{store.repo.name}@{good_digest}"] * 2
    assert tag_digest(store, "stable") == tag_digest(store, "testing") == good_digest
    status = sm("status", bad, "--json").json
    # One rejection: the rollbacks find the image rejected already and write no second one.
    assert [r["kind"] for r in status["timeline"]].count("rejection") == 1
    assert sm("pick", store.repo.name, "--channel", "stable", "--json").json["digest"] == good_digest


def test_reject_rollback_with_no_earlier_member_records_the_rejection_and_exits_3(store, sm, push):
    only, only_digest = in_both_channels(sm, push, 1)
    out = sm("reject", only, "--reason", "bad schema migration", "--rollback", "--json")
    assert out.code == 3
    assert f"shipmark: error: {store.repo.name}:stable still points at the rejected image: channel 'stable' " \
           f"of {store.repo.name} has no earlier member to roll back to" in out.err
    assert "hint: promote a known good image with: shipmark promote IMAGE --to stable" in out.err
    assert {c["channel"]: c["rolled_back"] for c in out.json["channels"]} == {"stable": False, "testing": False}
    assert out.json["channels"][0]["rollback_command"].startswith(f"shipmark rollback {store.repo.name} --channel")
    assert [(e["channel"], e["type"]) for e in out.json["not_rolled_back"]] == \
        [("stable", "NothingEligibleError"), ("testing", "NothingEligibleError")]
    assert all(set(e) == {"channel", "type", "message", "hint"} for e in out.json["not_rolled_back"])
    assert sm("status", only, "--json").json["state"]["rejected"] is True   # the rejection is recorded
    assert tag_digest(store, "stable") == only_digest


def test_reject_takes_a_policy_only_with_rollback(sm, tmp_path):
    out = sm("reject", f"ocidir://{tmp_path}/none:1.0.0", "--reason", "x", "--no-policy")
    assert out.code == 2
    assert "shipmark: error: --policy and --no-policy go with --rollback" in out.err
