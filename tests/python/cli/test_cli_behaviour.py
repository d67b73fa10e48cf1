"""The CLI does what its words say: each case is one surprise a new user met (issue 14)."""

import json
import os

import pytest

from shipmark.core.ref import parse
from shipmark.ops.demo import push_sample_image
from shipmark.stores.ocidir import OciDirStore


@pytest.fixture
def two(tmp_path, layout):
    """A second, newer image beside `layout` in the same OCI layout."""
    from datetime import datetime, timezone
    ref = parse(f"{layout.repo.name}:1.0.2-b2.20261102.abcdef2")
    push_sample_image(OciDirStore(ref.registry), ref, "app", datetime(2026, 11, 2, tzinfo=timezone.utc))
    return ref


def test_a_global_json_flag_gives_json(cli, layout):
    run = cli("--json", "status", layout)
    assert run.code == 0
    assert run.json["image"].endswith(run.json["digest"])
    assert cli("--json", "status", layout.with_tag("9.9.9")).json["error"]["type"] == "NotFoundError"


def test_a_command_with_subcommands_alone_prints_its_own_help(cli):
    run = cli("jenkins")
    assert run.code == 2
    assert "usage: shipmark jenkins" in run.err and "promotions" in run.err and "approve" in run.err


def test_mark_result_and_junit_exclude_each_other(cli, layout, tmp_path):
    (tmp_path / "r.xml").write_text('<testsuite><testcase name="a"/></testsuite>')
    run = cli("mark", layout, "--suite", "unit", "--result", "passed", "--junit", "r.xml")
    assert run.code == 2 and "give --result or --junit, not both" in run.err
    assert cli("--json", "status", layout).json["timeline"] == []


@pytest.mark.parametrize("argv, missing", [
    (["--version", "1.4.2"], "no build number"),
    (["--version", "1.4.2", "--build", "7"], "no git commit"),
])
def test_tag_without_build_number_or_commit_is_an_error(cli, argv, missing):
    run = cli("tag", *argv)
    assert run.code == 2 and missing in run.err and run.out == ""


def test_tag_labels_need_only_the_version(cli):
    run = cli("tag", "--version", "1.4.2", "--labels")
    assert run.code == 0 and "org.opencontainers.image.version=1.4.2" in run.out


def test_record_without_a_commit_needs_allow_empty_and_never_hides_the_builds_own(cli, layout, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("channels:\n  stable: {branches: [master]}\n")
    refused = cli("record", layout)
    assert refused.code == 2 and "--allow-empty" in refused.err
    assert cli("--json", "status", layout).json["timeline"] == []
    assert cli("record", layout, "--git-commit", "abc1234", "--git-branch", "origin/master").code == 0
    assert cli("record", layout, "--allow-empty").code == 0
    status = cli("--json", "status", layout).json
    assert status["state"]["built_from"] == "origin/master"
    assert status["eligible"]["stable"]["ok"], status["eligible"]


def test_promote_to_a_channel_the_policy_does_not_name_is_bad_input(cli, layout):
    run = cli("promote", layout, "--to", "qa")
    assert run.code == 2 and "channel 'qa' is not in shipmark.yaml" in run.err


def test_a_forced_member_promoted_again_is_already_in_the_channel(cli, layout):
    refused = cli("promote", layout, "--to", "testing")
    assert refused.code == 3 and "--force --reason" in refused.err
    assert cli("promote", layout, "--to", "testing", "--force", "--reason", "INC-7 hotfix").code == 0
    again = cli("promote", layout, "--to", "testing")
    assert again.code == 0 and "is already in testing" in again.out
    assert cli("pick", layout.repo.name, "--channel", "testing").code == 0
    history = cli("history", layout.repo.name, "--channel", "testing")
    assert "(forced: INC-7 hotfix)" in history.out
    status = cli("status", layout)
    assert "[forced]" in status.out and '"INC-7 hotfix"' in status.out


def test_reasons_show_in_status_pick_and_history(cli, layout, two):
    for ref in (layout, two):
        cli("mark", ref, "--suite", "unit", "--result", "passed")
        assert cli("promote", ref, "--to", "testing").code == 0
    assert cli("reject", two, "--reason", "crash loop on start").code == 0
    status = cli("status", two)
    assert "state:    rejected by" in status.out and "crash loop on start" in status.out
    pick = cli("--json", "pick", layout.repo.name, "--channel", "testing").json
    assert pick["tag"] == layout.tag
    assert pick["skipped"][0]["reasons"][0].endswith(": crash loop on start")
    history = cli("history", layout.repo.name, "--channel", "testing")
    assert "crash loop on start" in history.out
    back = cli("--json", "rollback", layout.repo.name, "--channel", "testing", "--reason", "tag follows")
    assert back.code == 0 and back.json["to"].endswith(pick["digest"]) and back.json["rejected"] is None
    again = cli("rollback", layout.repo.name, "--channel", "testing", "--reason", "the host")
    assert again.code == 3 and "no earlier member" in again.err


def test_status_by_digest_shows_the_version_tag(cli, layout):
    digest = cli("--json", "status", layout).json["digest"]
    run = cli("--json", "status", f"{layout.repo.name}@{digest}")
    assert run.json["tags"] == [layout.tag]


def test_list_shows_only_channel_tags_as_channels(cli, layout):
    cli("mark", layout, "--suite", "unit", "--result", "passed")
    cli("promote", layout, "--to", "testing")
    store = OciDirStore(layout.registry)
    manifest = store.get_manifest(layout)
    for tag in ("tmp", "deployed.stable-server"):
        store.put_manifest(layout.repo.with_tag(tag), manifest)
    listing = cli("--json", "list", layout.repo.name).json
    assert listing["images"][0]["channels"] == ["testing"]
    assert "[testing]" in cli("list", layout.repo.name).out


def test_list_says_when_there_are_no_images(cli, tmp_path):
    OciDirStore(str(tmp_path / "empty"))
    run = cli("list", f"ocidir://{tmp_path / 'empty'}")
    assert run.code == 0 and "has no version tags" in run.out


# -- issue 10: what a new user trips over ----------------------------------------------------------

def test_list_shows_the_channels_each_image_may_enter(cli, layout, two, tmp_path):
    (tmp_path / "shipmark.yaml").write_text(
        "channels:\n  testing: {require: [unit]}\n  stable: {require: [unit, acceptance], after: testing}\n")
    cli("mark", layout, "--suite", "unit", "--result", "passed")
    listing = cli("--json", "list", layout.repo.name).json
    assert [(i["tag"], i["eligible"]) for i in listing["images"]] == [(two.tag, []), (layout.tag, ["testing"])]
    text = cli("list", layout.repo.name).out.splitlines()
    assert text[1].endswith("may enter: testing") and "may enter" not in text[0]


def test_list_eligible_filters_by_channel(cli, layout, two, tmp_path):
    cli("mark", two, "--suite", "unit", "--result", "passed")
    only = cli("--json", "list", layout.repo.name, "--eligible", "testing").json
    assert [i["tag"] for i in only["images"]] == [two.tag]
    other = tmp_path / "other.yaml"
    other.write_text("channels:\n  testing: {}\n")
    both = cli("--json", "list", layout.repo.name, "--eligible", "testing", "--policy", other).json
    assert [i["tag"] for i in both["images"]] == [two.tag, layout.tag]
    assert "no image in" in cli("list", layout.repo.name, "--eligible", "testing", "--state", "untested").out


def test_list_eligible_needs_a_channel_of_the_policy(cli, layout, tmp_path):
    unknown = cli("list", layout.repo.name, "--eligible", "qa")
    assert unknown.code == 2 and "channel 'qa' is not in shipmark.yaml" in unknown.err
    (tmp_path / "shipmark.yaml").unlink()
    none = cli("list", layout.repo.name, "--eligible", "testing")
    assert none.code == 2 and "no policy" in none.err


@pytest.mark.parametrize("argv, message, hint", [
    (["--bogus"], "unrecognized arguments: --bogus", "shipmark --help"),
    (["status", "ocidir://x:1", "--bogus"], "unrecognized arguments: --bogus", "shipmark --help"),
    (["status"], "the following arguments are required: IMAGE", "shipmark status --help"),
    (["list", "ocidir://x", "--state", "odd"], "argument --state: invalid choice: 'odd'", "shipmark list --help"),
])
def test_a_usage_error_says_shipmark_once(cli, argv, message, hint):
    run = cli(*argv)
    first, second = run.err.splitlines()[:2]
    assert run.code == 2 and first.startswith(f"shipmark: error: {message}"), run.err
    assert first.count("shipmark") == 1
    assert second == f"hint: see `{hint}`"


def test_status_by_channel_tag_lists_every_tag_of_the_image(cli, store):
    from datetime import datetime, timezone

    from shipmark.core.policy import Policy
    from shipmark.ops import channel

    repo = store.repo
    ref = repo.with_tag("1.0.1-b1.20261101.abcdef1")
    push_sample_image(store.store, ref, "app", datetime(2026, 11, 1, tzinfo=timezone.utc))
    channel.promote(store=store.store, ref=ref, channel="stable", policy=Policy.open(),
                    now=datetime(2026, 11, 2, tzinfo=timezone.utc), by="ci")
    by_version = cli("--json", "status", ref, "--no-policy").json
    by_channel = cli("--json", "status", repo.with_tag("stable"), "--no-policy").json
    by_digest = cli("--json", "status", repo.with_digest(by_version["digest"]), "--no-policy").json
    assert by_version["tags"] == by_channel["tags"] == by_digest["tags"] == [ref.tag, "stable"]
    assert f"tags:     {ref.tag}, stable" in cli("status", repo.with_tag("stable"), "--no-policy").out


def test_record_takes_no_jenkins_like_the_other_writing_commands(cli, layout, tmp_path):
    run = cli("--json", "record", layout, "--git-commit", "abc1234", "--no-jenkins", "--out-dir", "out")
    assert run.code == 0, run.err
    assert run.json["files"] == [os.path.join("out", "provenance.json")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["provenance.json"]
    assert [r["kind"] for r in cli("--json", "status", layout).json["timeline"]] == ["provenance"]


# -- settings: flag, then variable, then default (python/shipmark/settings.py) ---------------------

def test_a_bad_timeout_variable_is_exit_2_with_one_line_for_any_command(cli, layout, env):
    env.setenv("SHIPMARK_TIMEOUT", "abc")
    for argv in (["status", layout], ["tag", "--version", "1.0.0", "--labels"]):
        run = cli(*argv)
        assert run.code == 2 and run.out == ""
        assert run.err.splitlines() == ["shipmark: error: SHIPMARK_TIMEOUT: expected a number of seconds, got 'abc'",
                                        "hint: set SHIPMARK_TIMEOUT=300 (see `shipmark --help`)"]
    assert cli("status", layout, "--timeout", "30").code == 0     # the flag wins over the variable


@pytest.mark.parametrize("argv", [["--timeout", "0", "status", "{ref}"], ["status", "{ref}", "--timeout", "0"],
                                  ["--max-tags", "x", "list", "{repo}"], ["list", "{repo}", "--max-tags", "x"]])
def test_limit_flags_work_before_and_after_the_command(cli, layout, argv):
    run = cli(*[a.format(ref=layout, repo=layout.repo.name) for a in argv])
    flag = next(a for a in argv if a.startswith("--"))
    assert run.code == 2 and run.err.startswith(f"shipmark: error: {flag}: expected "), run.err


def test_help_names_each_variable_and_default(cli, capsys):
    with pytest.raises(SystemExit):
        cli("list", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "(env SHIPMARK_TIMEOUT; default 120)" in text and "(env SHIPMARK_MAX_TAGS; default 100000)" in text
    assert "(env SHIPMARK_POLICY; default ./shipmark.yaml" in text
    with pytest.raises(SystemExit):
        cli("--help")
    top = capsys.readouterr().out
    for var in ("SHIPMARK_REGISTRY_USERNAME", "SHIPMARK_INSECURE_REGISTRIES", "SHIPMARK_MAX_TAG_PAGES",
                "SHIPMARK_CACHE_DIR", "JENKINS_API_TOKEN"):
        assert f"\n  {var} " in top, var
