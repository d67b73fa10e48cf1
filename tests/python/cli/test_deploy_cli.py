"""plan, render, deployed and board through main(): output, --json shapes, exit codes."""

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from deploy_history import EXPECTED_STABLE, NOW, POLICY, POLICY_YAML, STORY, build_service, push_image  # noqa: E402

from shipmark.core.ref import parse_repo  # noqa: E402
from shipmark.ops import annotate, channel  # noqa: E402
from shipmark.stores.ocidir import OciDirStore  # noqa: E402

NIGHTLY = "https://jenkins.example.com/job/nightly/{n}/"


@pytest.fixture
def story(tmp_path, cli):
    """STORY in OCI layouts under tmp_path (the working directory), services.yaml, shipmark.yaml."""
    repos = {}
    for name, builds in STORY.items():
        repo = parse_repo(f"ocidir://{tmp_path / 'reg' / name}")
        build_service(OciDirStore(repo.registry), repo, name, builds, now=NOW)
        repos[name] = repo
    (tmp_path / "shipmark.yaml").write_text(POLICY_YAML)
    (tmp_path / "services.yaml").write_text("target: prod\nservices:\n" + "".join(
        f"  - name: {n}\n    repo: {r.name}\n" for n, r in sorted(repos.items())))
    return repos


def good_build(repo, name, ver, build):
    store = OciDirStore(repo.registry)
    when = NOW - timedelta(days=1)
    ref = push_image(store, repo, name, ver, build, when)
    annotate.provenance(store=store, ref=ref, now=when, by="ci", git_branch="master")
    annotate.mark(store=store, ref=ref, now=when, by="ci", suite="unit", result="passed")
    channel.promote(store=store, ref=ref, channel="testing", policy=POLICY, now=when, by="ci")
    annotate.mark(store=store, ref=ref, now=when, by="ci", suite="acceptance", result="passed")
    channel.promote(store=store, ref=ref, channel="stable", policy=POLICY, now=when, by="ci")
    return ref


def test_help_lists_the_deploy_commands(cli):
    out = cli().err
    for command in ("plan", "render", "deployed", "board"):
        assert f"    {command}" in out


def test_plan_json_has_the_contract_shape(cli, story):
    run = cli("plan", "--services", "services.yaml", "--channel", "stable", "--json")
    assert run.code == 0, run.err
    data = run.json
    assert (data["channel"], data["target"]) == ("stable", "prod")
    assert [s["name"] for s in data["services"]] == ["api", "web", "worker"]
    for s in data["services"]:
        assert {"name", "repo", "image", "tag", "digest", "deployed", "change"} <= set(s)
        assert s["image"] == f"{s['repo']}@{s['digest']}" and s["tag"].split("-b")[0] == EXPECTED_STABLE[s["name"]]
        assert (s["deployed"], s["change"]) == (None, "new")


def test_plan_text_says_what_was_skipped_and_why(cli, story):
    run = cli("plan", "--services", "services.yaml")
    assert run.code == 0
    assert run.out.splitlines()[0] == "plan for prod, channel stable:"
    assert "skipped 1.2.0-b3" in run.out and "required suite 'acceptance' failed" in run.out
    assert "rejected by oncall@example.com" in run.out


def test_the_nightly_round_trip_plan_render_deployed(cli, story, tmp_path):
    assert cli("plan", "--services", "services.yaml", "--json").code == 0
    (tmp_path / "plan.json").write_text(cli("plan", "--services", "services.yaml", "--json").out)
    run = cli("render", "--services", "services.yaml", "--plan", "plan.json", "--template", "docker-compose.yml.j2",
              "--template", "images.env.j2", "--out", "deploy", "--json")
    assert run.code == 0, run.err
    assert [Path(f).name for f in run.json["files"]] == ["docker-compose.yml", "images.env"]
    compose = (tmp_path / "deploy" / "docker-compose.yml").read_bytes()
    run = cli("deployed", "--services", "services.yaml", "--plan", "plan.json", "--by", NIGHTLY.format(n=1), "--json")
    assert run.code == 0, run.err
    assert run.json["result"] == "succeeded"
    assert [s["name"] for s in run.json["services"]] == ["api", "web", "worker"]
    assert all(s["record"]["kind"] == "deployment" and s["record"]["target"] == "prod" for s in run.json["services"])
    # The next night nothing changed: plan says so, render gives the same bytes, deployed records nothing.
    plan = cli("plan", "--services", "services.yaml", "--json").json
    assert {s["change"] for s in plan["services"]} == {"none"}
    assert all(s["deployed"] == s["image"] for s in plan["services"])
    run = cli("render", "--services", "services.yaml", "--template", "docker-compose.yml.j2", "--out", "deploy",
              "--json")
    assert run.json["changed"] == [] and (tmp_path / "deploy" / "docker-compose.yml").read_bytes() == compose
    run = cli("deployed", "--services", "services.yaml", "--by", NIGHTLY.format(n=2))
    assert run.code == 0 and "nothing changed on prod: no record written" in run.out
    status = cli("status", f"{story['api'].name}@{plan['services'][0]['digest']}").out
    assert "deployment" in status and "@ prod (succeeded)" in status


def test_a_failed_apply_records_and_rolls_back(cli, story, tmp_path):
    assert cli("deployed", "--services", "services.yaml", "--by", NIGHTLY.format(n=1)).code == 0
    before = (tmp_path / "before")
    assert cli("render", "--services", "services.yaml", "--template", "images.env.j2", "--out", str(before)).code == 0
    good_build(story["api"], "api", "1.5.0", 9)
    plan = cli("plan", "--services", "services.yaml", "--json").json
    assert [s["change"] for s in plan["services"]] == ["upgrade", "none", "none"]
    run = cli("deployed", "--services", "services.yaml", "--failed", "--reason", "compose up exited 1",
              "--rollback", "--template", "images.env.j2", "--out", "rollback", "--by", NIGHTLY.format(n=2))
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith("api: FAILED to deploy to prod: 1.5.0-b9")
    assert "rolled back: rendered the previous set into rollback:" in run.out
    assert (tmp_path / "rollback" / "images.env").read_bytes() == (before / "images.env").read_bytes()
    again = cli("plan", "--services", "services.yaml", "--json").json
    assert [s["change"] for s in again["services"]] == ["none", "none", "none"]
    assert "deploying to prod failed" in again["services"][0]["skipped"][0]["reasons"][0]


def test_deployed_single_images(cli, story):
    api = cli("plan", "--services", "services.yaml", "--json").json["services"][0]
    run = cli("deployed", "--target", "qa", f"{story['api'].name}:{api['tag']}", "--json")
    assert run.code == 0, run.err
    assert run.json["services"][0]["digest"] == api["digest"]
    listing = cli("list", story["api"].name, "--json").json
    assert [i["channels"] for i in listing["images"] if i["digest"] == api["digest"]] == [["stable"]]


def test_board_writes_one_page(cli, story, tmp_path):
    run = cli("board", "--services", "services.yaml", "--out", "board.html", "--versions", "3", "--json")
    assert run.code == 0, run.err
    assert [len(s["cells"]) for s in run.json["services"]] == [3, 3, 2]
    html = (tmp_path / "board.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and 'data-service="worker"' in html


# -- bad input ------------------------------------------------------------------------------------

def test_unknown_service_is_exit_2(cli, story):
    run = cli("plan", "--services", "services.yaml", "--only", "payments", "--json")
    assert run.code == 2
    assert run.json["error"]["message"] == "unknown service 'payments': services.yaml has no service of that name"
    assert run.json["error"]["hint"] == "use one of: api, web, worker"


def test_duplicate_services_are_exit_2(cli, story, tmp_path):
    (tmp_path / "dup.yaml").write_text("services:\n  - {name: api, repo: reg.io/a}\n  - {name: api, repo: reg.io/b}\n")
    run = cli("plan", "--services", "dup.yaml")
    assert run.code == 2
    assert run.err.splitlines()[0] == ("shipmark: error: dup.yaml: services[1] (api).name: duplicate service 'api', "
                                       "first defined at services[0]")


def test_an_empty_repository_is_a_gap_with_its_reason(cli, tmp_path):
    OciDirStore(str(tmp_path / "empty"))
    (tmp_path / "services.yaml").write_text(f"services:\n  - name: e\n    repo: ocidir://{tmp_path / 'empty'}\n")
    run = cli("plan", "--no-policy")
    assert run.code == 0
    assert run.out.splitlines()[1:3] == ["  e  no image", f"     repository ocidir://{tmp_path / 'empty'} has no tags: "
                                         "push a version-tagged image there (see `shipmark tag`), or fix the "
                                         "service's repo in the services file"]


def test_a_service_without_an_image_is_exit_3_only_with_require_all(cli, tmp_path):
    repo = parse_repo(f"ocidir://{tmp_path / 'bad'}")
    build_service(OciDirStore(repo.registry), repo, "bad", [("1.0.0", "failed", None, False)])
    (tmp_path / "shipmark.yaml").write_text(POLICY_YAML)
    (tmp_path / "services.yaml").write_text(f"services:\n  - name: bad\n    repo: {repo.name}\n")
    run = cli("plan", "--json")
    assert run.code == 0 and run.json["missing"] == ["bad"]
    entry = run.json["services"][0]
    assert (entry["image"], entry["reasons"]) == (None, [f"channel 'stable' of {repo.name} has no member"])
    assert entry["skipped"][0]["reasons"][:2] == ["never promoted to 'stable'",
                                                  "required suite 'acceptance' has no result"]
    strict = cli("plan", "--json", "--require-all")
    assert strict.code == 3 and strict.json["missing"] == ["bad"]   # the plan is still printed
    assert "no image for bad (--require-all)" in strict.err


def test_a_template_error_is_exit_2_with_the_line(cli, story, tmp_path):
    (tmp_path / "t.yml.j2").write_text("a: 1\nb: {{ services | first | attr('nope') | upper }\n")
    run = cli("render", "--services", "services.yaml", "--template", "t.yml.j2", "--out", "o")
    assert run.code == 2
    assert run.err.startswith("shipmark: error: template t.yml.j2 line 2: ")
    assert not (tmp_path / "o").exists()


def test_missing_flags_are_exit_2(cli, story):
    assert cli("render", "--services", "services.yaml", "--out", "o").code == 2
    assert cli("render", "--services", "services.yaml", "--template", "images.env.j2").code == 2
    run = cli("deployed", "--services", "services.yaml", "--rollback")
    assert (run.code, run.err.splitlines()[0]) == (2, "shipmark: error: --rollback goes with --failed")
    assert cli("deployed", "reg.io/app:1.0").code == 2
    assert cli("plan", "--services", "nope.yaml").code == 2


def test_args_file_carries_values_as_data(cli, story, tmp_path):
    (tmp_path / "args.json").write_text(json.dumps(["--services=services.yaml", "--channel=stable", "--json"]))
    run = cli("plan", "--args-file", "args.json")
    assert run.code == 0 and run.json["channel"] == "stable"
