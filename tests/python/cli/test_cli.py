import json
import os
import subprocess
import sys

import pytest

NASTY = ["'; rm -rf / #", "$(touch /tmp/pwned)", "`id`", "line1\nline2", "ünïcødé ✓ 漢字"]


def test_help_exits_0(cli):
    with pytest.raises(SystemExit) as exit_:
        cli("--help")
    assert exit_.value.code == 0


def test_no_arguments_is_a_usage_error_that_prints_help(cli):
    run = cli()
    assert run.code == 2 and run.out == ""
    for command in ("tag", "record", "mark", "reject", "restore", "status", "list", "promote", "pick",
                    "rollback", "history", "demo"):
        assert command in run.err
    assert "3    policy not satisfied" in run.err


def test_tag_and_labels(cli, monkeypatch):
    monkeypatch.setenv("BUILD_NUMBER", "42")
    monkeypatch.setenv("GIT_COMMIT", "0123456789abcdef")
    run = cli("tag", "--version", "2.1.0", "--date", "20261128")
    assert (run.code, run.out) == (0, "2.1.0-b42.20261128.0123456\n")
    labels = cli("tag", "--version", "2.1.0", "--date", "20261128", "--labels", "--source", "https://g/x y")
    assert "--label org.opencontainers.image.version=2.1.0" in labels.out
    assert "'--label org.opencontainers.image.source=https://g/x y'" not in labels.out
    assert "'org.opencontainers.image.source=https://g/x y'" in labels.out


def test_bad_reference_is_exit_2_with_one_line_and_hint(cli):
    run = cli("status", "Not A Ref")
    assert run.code == 2
    assert run.err.splitlines()[0] == "shipmark: error: invalid image reference 'Not A Ref'"
    assert run.err.splitlines()[1].startswith("hint: ")
    assert "Traceback" not in run.err


def test_json_errors_have_type_message_hint(cli, layout):
    run = cli("promote", str(layout), "--to", "testing", "--json")
    assert run.code == 3
    err = run.json["error"]
    assert err["type"] == "PolicyError"
    assert err["reasons"] == ["required suite 'unit' has no result"]


def test_missing_image_is_exit_4(cli, layout):
    run = cli("status", str(layout.with_tag("9.9.9")))
    assert run.code == 4
    assert "not found" in run.err


def test_usage_errors_are_exit_2(cli):
    run = cli("promote", "--bogus")
    assert run.code == 2 and "unrecognized arguments: --bogus" in run.err
    assert cli("mark", "ocidir://x:1", "--suite", "unit").code == 2


def test_full_flow_with_json(cli, layout):
    assert cli("record", str(layout), "--git-branch", "master", "--git-commit", "abc").code == 0
    mark = cli("mark", str(layout), "--suite", "unit", "--result", "passed", "--json")
    assert mark.json["result"] == "passed" and mark.json["record"]["kind"] == "test"
    promote = cli("promote", str(layout), "--to", "testing", "--json")
    assert promote.code == 0 and promote.json["promoted"]
    pick = cli("pick", layout.repo.name, "--channel", "testing")
    assert pick.out.strip() == f"{layout.repo.name}@{promote.json['digest']}"
    status = cli("status", str(layout), "--json").json
    assert status["channels"] == ["testing"]
    assert status["eligible"]["testing"]["ok"]
    assert [r["kind"] for r in status["timeline"]] == ["promotion", "test", "provenance"]
    listing = cli("list", layout.repo.name, "--json").json
    assert listing["images"][0]["channels"] == ["testing"]


@pytest.mark.parametrize("text", NASTY)
def test_free_text_is_stored_as_data(cli, layout, text):
    run = cli("reject", str(layout), "--reason", text, "--by", text, "--json")
    assert run.code == 0, run.err
    assert run.json["record"]["by"] == text
    assert not os.path.exists("/tmp/pwned")
    status = cli("status", str(layout), "--json").json
    assert status["state"]["rejected"]


def test_args_file_splices_arguments_as_data(cli, layout, tmp_path):
    args = tmp_path / "args.json"
    args.write_text(json.dumps(["--suite=unit", "--result=failed", "--url=$(reboot)", "--", str(layout)]))
    run = cli("mark", "--json", "--args-file", str(args))
    assert run.code == 0, run.err
    assert run.json["result"] == "failed"
    args.write_text("{not json")
    assert cli("mark", "--args-file", str(args)).code == 2


def test_junit_reports_fill_counts_and_result(cli, layout, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "a.xml").write_text(
        '<testsuite><testcase classname="A" name="ok"/><testcase classname="A" name="bad">'
        '<failure message="x"/></testcase><testcase name="later"><skipped/></testcase></testsuite>')
    run = cli("mark", str(layout), "--suite", "acceptance", "--junit", "reports/*.xml", "--json")
    assert run.code == 0, run.err
    assert run.json["result"] == "failed"
    assert run.json["counts"] == {"passed": 1, "failed": 1, "skipped": 1}


@pytest.mark.parametrize("content, message", [
    ("<testsuite><testcase", "is not valid XML"),
    ("", "is not valid XML"),
])
def test_malformed_junit_is_exit_2_and_writes_nothing(cli, layout, tmp_path, content, message):
    (tmp_path / "r.xml").write_text(content)
    before = sorted(os.listdir(layout.registry + "/blobs/sha256"))
    run = cli("mark", str(layout), "--suite", "x", "--junit", "r.xml")
    assert run.code == 2 and message in run.err
    assert sorted(os.listdir(layout.registry + "/blobs/sha256")) == before


def test_junit_glob_matching_nothing_is_an_error(cli, layout):
    run = cli("mark", str(layout), "--suite", "x", "--junit", "nowhere/*.xml")
    assert run.code == 2 and "matches no file" in run.err


def test_policy_file_errors_name_the_path(cli, layout, tmp_path):
    (tmp_path / "bad.yaml").write_text("channels:\n  stable: {min_age: 2 hours}\n")
    run = cli("promote", str(layout), "--to", "stable", "--policy", "bad.yaml")
    assert run.code == 2
    assert "bad.yaml: channels.stable.min_age: expected a duration like 2h, got '2 hours'" in run.err
    (tmp_path / "bad.yaml").write_text("channels: [unclosed\n")
    assert "not valid YAML at line" in cli("pick", layout.repo.name, "--channel", "x", "--policy", "bad.yaml").err


def test_demo_tells_the_story(cli, tmp_path):
    run = cli("demo", "--dir", tmp_path / "demo")
    assert run.code == 0
    assert "== api: stable is 1.4.2-b8" in run.out
    assert "rejected by oncall@example.com" in run.out
    assert "built from branch 'release/2.3', allowed: master" in run.out
    assert "a forged, unsigned 'acceptance passed' on 2.3.1-b12" in run.out
    assert "unsigned; the policy trusts ci for test 'acceptance'" in run.out
    assert "== web: stable is 2.2.1-b9" in run.out   # the forgery changed nothing


def test_installed_console_script_runs():
    script = os.path.join(os.path.dirname(sys.executable), "shipmark")
    proc = subprocess.run([script, "tag", "--version", "1.0.0", "--build", "3", "--sha", "abc1234def",
                           "--date", "20260101"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "1.0.0-b3.20260101.abc1234\n"


# What printing a command's help may import: the parser only. The libraries and layers that do
# the work load when a command runs (cli/__init__.py imports only the chosen command's module).
HEAVY = ("yaml", "jinja2", "requests", "urllib3", "docker", "cryptography", "jenkins",
         "shipmark.ops", "shipmark.stores", "shipmark.cli.context", "shipmark.policyfile",
         "shipmark.servicesfile", "shipmark.render", "shipmark.keys")
# The top-level help, and the help of the commands pipelines run most, import no core value
# types (dataclasses) and no Jenkins adapter either.
PARSER_ONLY = HEAVY + ("dataclasses", "shipmark.core.ref", "shipmark.core.record", "shipmark.jenkins")


def _modules_after(*argv: str, env=None) -> set:
    code = ("import sys\n"
            "from shipmark.__main__ import main\n"
            "try:\n"
            f"    main({list(argv)!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            "sys.stderr.write('\\n'.join(sys.modules))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, **(env or {})))
    assert run.stdout
    return set(run.stderr.split())


def _loaded(modules: set, names) -> list:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("argv", [("--help",), ("pick", "--help"), ("status", "--help"), ("promote", "--help")])
def test_help_imports_only_the_parser(argv):
    assert _loaded(_modules_after(*argv), PARSER_ONLY) == []


def test_no_command_help_imports_the_layers_that_do_the_work():
    from shipmark.cli import COMMANDS
    for command in COMMANDS:
        assert (command, _loaded(_modules_after(command, "--help"), HEAVY)) == (command, [])


def test_tag_loads_no_image_or_policy_layer():
    """`tag` runs in every build: it needs versions, not records, policies or stores."""
    modules = _modules_after("tag", "--version", "2.1.0", env={"BUILD_NUMBER": "42", "GIT_COMMIT": "0123456789abcdef"})
    unneeded = ("yaml", "shipmark.ops", "shipmark.stores", "shipmark.policyfile", "shipmark.core.policy",
                "shipmark.core.record", "shipmark.core.dsse")
    assert _loaded(modules, unneeded) == []
