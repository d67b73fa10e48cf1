"""What a hostile registry writes must not reach a shell, a YAML parser or a terminal as code.

Rows of issue 10 reproduced here: a `Docker-Content-Digest` carrying `$(touch PWNED)` that reaches
`render`; env files sourced by a real bash; a forged deployment record whose tag holds newlines,
rendered by `deployed --rollback` with the example Helm values template; ESC, NUL and U+202E in
record fields shown by `status`. Forged records are pushed to the real Docker Registry 2.8 of the
`registry2` fixture as anyone with push rights could: a hand-made Statement, attached with the
store API, none of shipmark's write-side checks.
"""

import errno
import json
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from shipmark import render, servicesfile
from shipmark.core import mediatype as mt
from shipmark.core import record as rec
from shipmark.core import version
from shipmark.core.descriptor import artifact_manifest
from shipmark.core.ref import parse
from shipmark.core.trust import Reading, keys_id
from shipmark.errors import InputError, RemoteError
from shipmark.ops import deploy
from shipmark.ops.demo import push_sample_image
from shipmark.stores import open_store
from shipmark.stores.discovery import Discovery

ROOT = Path(__file__).resolve().parents[3]
HELM_VALUES = ROOT / "examples" / "templates" / "helm-values.yaml.j2"
DIGEST = "sha256:" + "a" * 64
HOSTILE_DIGEST = DIGEST + "$(touch PWNED)"
# What a terminal must never receive raw from a registry.
RAW = ("\x1b", "\x00", "\x07", "\u202e")


# -- render: values checked, then quoted for their format ------------------------------------------

SERVICES = servicesfile.parse("target: prod\nservices:\n  - {name: app, repo: registry.example.com/team/app}\n")


@pytest.mark.parametrize("digest, tag", [(HOSTILE_DIGEST, "1.0.0"), (DIGEST + "\n", "1.0.0"),
                                         (DIGEST, "1.0.0\nevil: {image: attacker.example/x}"),
                                         (DIGEST, "1.0.0$(touch PWNED)")])
def test_a_hostile_digest_or_tag_is_refused_before_anything_is_written(tmp_path, monkeypatch, digest, tag):
    monkeypatch.chdir(tmp_path)
    service = SERVICES.services[0]
    chosen = [deploy.Chosen(service, "stable", service.repo, digest, tag)]
    with pytest.raises(RemoteError) as err:
        deploy.render(chosen=chosen, services=SERVICES, out=str(tmp_path / "out"), target="prod",
                      templates=["images.env.j2", "docker-compose.yml.j2", "kustomization.yaml.j2", str(HELM_VALUES)])
    assert "service app: image" in err.value.message and "nothing was written" in err.value.hint
    assert not (tmp_path / "out").exists() and not (tmp_path / "PWNED").exists()


HOSTILE = "x\nevil: {image: attacker.example/evil}  # \"'$(touch PWNED)`touch PWNED`"


def hostile_context():
    """A template context whose values hold everything: the quoting alone must keep them in place
    (template_context refuses such values before any template sees them)."""
    service = SERVICES.services[0]
    context = deploy.template_context([deploy.Chosen(service, "stable", service.repo, DIGEST, "1.0.0")],
                                      SERVICES, "prod")
    context["services"][0].update(repo=HOSTILE, image=HOSTILE + "@" + HOSTILE, digest=HOSTILE, tag=HOSTILE)
    context["target"] = HOSTILE
    return context


@pytest.mark.parametrize("template, expected", [
    ("docker-compose.yml.j2", lambda doc: doc == {"services": {"app": {
        "image": HOSTILE + "@" + HOSTILE, "labels": {"dev.shipmark.tag": HOSTILE}, "restart": "unless-stopped"}}}),
    ("kustomization.yaml.j2", lambda doc: doc["images"] == [{"name": HOSTILE, "newName": HOSTILE, "digest": HOSTILE}]
        and list(doc) == ["apiVersion", "kind", "images"]),
    (str(HELM_VALUES), lambda doc: doc == {"app": {"image": {"repository": HOSTILE, "digest": HOSTILE}}}),
])
def test_yaml_templates_keep_any_value_inside_its_scalar(template, expected):
    doc = yaml.safe_load(render.render_template(render.find_template(template), hostile_context()))
    assert expected(doc), doc


def test_images_env_keeps_any_value_inside_its_shell_word(tmp_path):
    (tmp_path / "images.env").write_text(render.render_template(render.find_template("images.env.j2"),
                                                                hostile_context()))
    shell = subprocess.run(["bash", "-c", 'set -a; . ./images.env; printf "%s" "$APP_IMAGE"'],
                           cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert (shell.returncode, shell.stdout) == (0, HOSTILE + "@" + HOSTILE), shell.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.env"]


def test_a_failed_write_leaves_the_previous_files_whole(tmp_path, monkeypatch):
    """All or nothing: when one file cannot be written, none of the set is replaced."""
    service = SERVICES.services[0]
    out = tmp_path / "out"
    first = [deploy.Chosen(service, "stable", service.repo, DIGEST, "1.0.0")]
    deploy.render(chosen=first, services=SERVICES, out=str(out), target="prod",
                  templates=["docker-compose.yml.j2", "images.env.j2"])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_mkstemp = render.tempfile.mkstemp
    calls = []

    def disk_full_on_the_second_file(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(render.tempfile, "mkstemp", disk_full_on_the_second_file)
    newer = [deploy.Chosen(service, "stable", service.repo, "sha256:" + "b" * 64, "1.1.0")]
    with pytest.raises(InputError) as err:
        deploy.render(chosen=newer, services=SERVICES, out=str(out), target="prod",
                      templates=["docker-compose.yml.j2", "images.env.j2"])
    assert err.value.message.endswith("No space left on device")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # no temp file left either


def test_images_env_values_round_trip_through_bash_and_run_nothing(cli, tmp_path):
    """A valid but unusual repository (an OCI layout path full of shell syntax) rendered into
    images.env, then `set -a; . ./images.env` in a real bash: the value comes back exactly and no
    command ran."""
    layout = tmp_path / "layouts" / "it's$(touch${IFS}PWNED)`touch${IFS}PWNED2`;touch${IFS}PWNED3"
    repo = parse(f"ocidir://{layout}", default_tag=None)
    (tmp_path / "services.yaml").write_text(
        "target: prod\nservices:\n  - name: app\n    repo: " + json.dumps(repo.name) + "\n")
    (tmp_path / "plan.json").write_text(json.dumps(
        {"target": "prod", "services": [{"name": "app", "repo": repo.name, "digest": DIGEST, "tag": "1.0.0"}]}))
    run = cli("render", "--services", "services.yaml", "--plan", "plan.json", "--template", "images.env.j2",
              "--out", "deploy")
    assert run.code == 0, run.err
    shell = subprocess.run(["bash", "-c", 'set -a; . ./images.env; printf "%s" "$APP_IMAGE"'],
                           cwd=tmp_path / "deploy", capture_output=True, text=True, timeout=30)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout == f"{repo.name}@{DIGEST}"
    assert not [p for p in tmp_path.rglob("PWNED*")]


# -- records read from a real registry -------------------------------------------------------------

def forge(store, repo, subject, kind: str, summary: dict, predicate: dict) -> str:
    """A record as anyone with push rights can write it: a hand-made Statement whose summary says
    what the forger likes, attached the way every record is (its own tag, the referrers index)."""
    notes = {mt.A_KIND: kind, **summary}
    statement = {"_type": mt.STATEMENT_V1, "predicateType": rec.PREDICATE_TYPES[kind], "predicate": predicate,
                 "subject": [{"name": repo.name, "digest": {"sha256": subject.digest[7:]}, "annotations": notes}]}
    manifest, blobs = artifact_manifest(mt.RECORD_ARTIFACT, json.dumps(statement).encode(), mt.IN_TOTO,
                                        rec.PAYLOAD_FILE, notes, subject)
    return Discovery(store, repo).attach(subject, manifest, blobs).digest


@pytest.fixture
def registry_repo(registry2):
    repo = parse(f"{registry2.host}/shipmark-hostile/{uuid.uuid4().hex[:12]}", default_tag=None)
    store = open_store(repo)
    yield store, repo
    store.close()


def push(store, repo, ver: str, build: int):
    created = datetime(2026, 11, build, tzinfo=timezone.utc)
    ref = repo.with_tag(version.make_tag(ver, build, created, "abc1234"))
    push_sample_image(store, ref, "app", created, "abc1234")
    return ref, store.head_manifest(ref)


def created(minutes: int = 0) -> str:
    return rec.format_time(datetime.now(timezone.utc) + timedelta(minutes=minutes))


def test_a_forged_deployment_tag_with_newlines_never_reaches_the_rollback_files(cli, tmp_path, registry_repo):
    store, repo = registry_repo
    good, good_desc = push(store, repo, "1.0.0", 1)
    newer, newer_desc = push(store, repo, "1.1.0", 2)
    assert cli("deployed", "--target", "prod", good).code == 0   # prod runs 1.0.0
    # Newest successful deployment of 1.0.0 to prod, as far as its summary goes; its tag adds a
    # top-level key to any YAML that writes the tag unquoted.
    injected = f"{good.tag}\nevil:\n  image:\n    repository: attacker.example/evil"
    forged = forge(store, repo, good_desc, rec.DEPLOYMENT,
                   {mt.A_CREATED: created(1), mt.A_RESULT: "succeeded", mt.A_TARGET: "prod", mt.A_PREVIOUS: "none",
                    mt.A_BY: "attacker"},
                   {"target": "prod", "result": "succeeded", "tag": injected})
    (tmp_path / "services.yaml").write_text(f"target: prod\nservices:\n  - {{name: app, repo: {repo.name}}}\n")
    (tmp_path / "plan.json").write_text(json.dumps({"target": "prod", "services": [
        {"name": "app", "repo": repo.name, "digest": newer_desc.digest, "tag": newer.tag}]}))
    run = cli("deployed", "--services", "services.yaml", "--plan", "plan.json", "--failed", "--rollback",
              "--template", str(HELM_VALUES), "--out", "out", "--json")
    assert run.code == 0, run.err
    values = yaml.safe_load((tmp_path / "out" / "helm-values.yaml").read_text())
    assert list(values) == ["app"]
    assert values["app"]["image"] == {"repository": repo.name, "digest": good_desc.digest}
    assert run.json["rollback"]["services"][0]["tag"] == good.tag   # from the genuine record
    untrusted = {u["digest"]: u["why"] for u in cli("status", good, "--json").json["untrusted"]}
    assert untrusted[forged].startswith("deployment tag '1.0.0-b1.20261101.abc1234\\nevil:")


def test_a_forged_name_with_a_newline_does_not_count(cli, registry_repo):
    store, repo = registry_repo
    ref, desc = push(store, repo, "1.0.0", 1)
    forged = forge(store, repo, desc, rec.TEST,
                   {mt.A_CREATED: created(), mt.A_SUITE: "unit\nacceptance", mt.A_RESULT: "passed"},
                   {"result": "PASSED"})
    status = cli("status", ref, "--json").json
    assert status["timeline"] == []
    assert status["untrusted"][0]["digest"] == forged
    assert status["untrusted"][0]["why"] == "summary dev.shipmark.suite is 'unit\\nacceptance', not a name"


def test_a_forged_record_counted_by_an_older_reader_is_read_again(cli, registry_repo):
    """A warm cache may keep what a shipmark that checked less said of a record (that it counts):
    readings are kept under the rules they were made by, so such a record is read again."""
    store, repo = registry_repo
    ref, desc = push(store, repo, "1.0.0", 1)
    summary = {mt.A_CREATED: created(), mt.A_SUITE: "unit\nacceptance", mt.A_RESULT: "passed"}
    forged = forge(store, repo, desc, rec.TEST, summary, {"result": "PASSED"})
    older = Reading(rec.Record.from_summary(forged, {mt.A_KIND: rec.TEST, **summary}))
    found = Discovery(store, repo)
    found.keep_reading(forged, f"{desc.digest} {keys_id({})}", older.to_json())   # as rules 1 kept it
    found.save()
    status = cli("status", ref, "--json").json
    assert status["timeline"] == [] and status["untrusted"][0]["digest"] == forged


def test_control_and_bidi_characters_in_records_are_shown_escaped(cli, registry_repo):
    store, repo = registry_repo
    ref, desc = push(store, repo, "1.0.0", 1)
    by = "ci\x1b]0;owned\x07\x00\u202etxt.exe"
    reason = "broken\x1b[2K\rfine"
    forge(store, repo, desc, rec.TEST, {mt.A_CREATED: created(-2), mt.A_SUITE: "unit", mt.A_RESULT: "passed",
                                        mt.A_BY: by}, {"result": "PASSED"})
    forge(store, repo, desc, rec.REJECTION, {mt.A_CREATED: created(-1), mt.A_BY: by}, {"reason": reason})

    human = cli("status", ref)
    assert human.code == 0, human.err
    assert not [c for c in RAW + ("\r",) if c in human.out]
    assert "by ci\\x1b]0;owned\\x07\\x00\\u202etxt.exe" in human.out
    assert "broken\\x1b[2K\\rfine" in human.out

    machine = cli("status", ref, "--json")
    assert not [c for c in RAW if c in machine.out]   # escaped as JSON escapes them
    timeline = machine.json["timeline"]
    assert [r["by"] for r in timeline] == [by, by]   # the values themselves, exactly
    assert reason in machine.json["state"]["rejection"]


def test_error_messages_are_escaped_too(cli, tmp_path):
    run = cli("pick", f"ocidir://{tmp_path}/no\x1b[2Jsuch\u202elayout", "--channel", "stable")
    assert run.code != 0
    assert not [c for c in RAW if c in run.err]
    assert "no\\x1b[2Jsuch\\u202elayout" in run.err
