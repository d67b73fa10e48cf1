"""Records interoperate with in-toto and ORAS tooling.

- The Statements shipmark writes pass the in-toto attestation validators: the in-toto attestation
  Go library (Statement, SLSA provenance v1, ResourceDescriptor), run from tests/python/intoto,
  plus the spec rules it leaves out (a ResourceDescriptor needs a uri, digest or content; a
  test result is PASSED, WARNED or FAILED with a configuration).
- `oras pull` of a record writes its Statement to statement.intoto.json (the layer's title).
"""

import copy
import json
import subprocess
import uuid
from datetime import datetime, timezone

import pytest

import servers

from shipmark.core.ref import parse
from shipmark.ops.demo import push_sample_image
from shipmark.ops.images import statement
from shipmark.stores import open_store

PROVENANCE = "https://slsa.dev/provenance/v1"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b"
MATERIAL = "sha256:" + "ab" * 32
WHEN = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def intoto(tmp_path_factory):
    """intoto(statements) -> {file name: the validator's verdict}, and the exit code."""
    binary = servers.build_intoto()
    workdir = tmp_path_factory.mktemp("intoto")

    def check(statements):
        paths = []
        for name, doc in statements.items():
            path = workdir / f"{uuid.uuid4().hex[:8]}-{name}.json"
            path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
            paths.append((name, path))
        proc = subprocess.run([str(binary), *(str(p) for _, p in paths)], capture_output=True,
                              text=True, timeout=60)
        lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
        assert len(lines) == len(paths), proc.stdout + proc.stderr
        return {name: lines[str(path)] for name, path in paths}, proc.returncode
    return check


def push_image(ref_text: str):
    ref = parse(ref_text)
    store = open_store(ref)
    push_sample_image(store, ref, "app", WHEN)
    return store, ref


def test_every_record_shape_passes_the_in_toto_validators(sm, tmp_path, intoto):
    store, ref = push_image(f"ocidir://{tmp_path / 'layout'}:1.0.1-b1.20261101.abcdef1")
    image = str(ref)
    (tmp_path / "report.xml").write_text(
        '<testsuite><testcase classname="A" name="ok"/><testcase classname="A" name="bad">'
        '<failure message="x"/></testcase><testcase name="later"><skipped/></testcase></testsuite>')
    calls = {
        "record-nothing-known": ["record", image, "--allow-empty"],
        "record-short-commit": ["record", image, "--git-commit", "abc1234"],
        "record-full-commit": ["record", image, "--git-commit", COMMIT, "--git-branch", "origin/master",
                               "--git-url", "https://git.example/app.git", "--job", "app",
                               "--build-number", "7", "--build-url", "https://jenkins.example/job/app/7/",
                               "--builder", "https://jenkins.example/"],
        "record-material": ["record", image, "--allow-empty",
                            "--material", f"https://apt.example/pool/libfoo.deb={MATERIAL}",
                            "--base-image", "docker.example/debian@sha256:" + "cd" * 32],
        "mark-no-url": ["mark", image, "--suite", "unit", "--result", "passed"],
        "mark-url": ["mark", image, "--suite", "acceptance", "--result", "warned",
                     "--url", "https://jenkins.example/job/app/8/", "--configuration", "acceptance-eu"],
        "mark-junit": ["mark", image, "--suite", "integration", "--junit", "report.xml"],
    }
    statements = {}
    try:
        for name, argv in calls.items():
            run = sm(*argv, "--json")
            assert run.code == 0, f"{name}: {run.err}"
            statements[name] = statement(store, ref, run.json["record"]["digest"])
    finally:
        store.close()
    assert {name: doc["predicateType"] for name, doc in statements.items()} == {
        name: PROVENANCE if name.startswith("record") else TEST_RESULT for name in calls}

    verdicts, code = intoto(statements)
    assert verdicts == {name: "ok" for name in calls}
    assert code == 0


def valid_provenance() -> dict:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": "ef" * 32}}],
        "predicateType": PROVENANCE,
        "predicate": {
            "buildDefinition": {
                "buildType": "https://shipmark.dev/jenkins-build/v1",
                "externalParameters": {"revision": "abc1234"},
                "internalParameters": {},
                "resolvedDependencies": [{"uri": "git", "annotations": {"revision": "abc1234"}}],
            },
            "runDetails": {"builder": {"id": "https://shipmark.dev/builders/unrecorded"},
                           "metadata": {"startedOn": "2026-11-01T00:00:00.000Z"}},
        },
    }


def valid_test_result() -> dict:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": "ef" * 32}}],
        "predicateType": TEST_RESULT,
        "predicate": {"result": "PASSED", "configuration": [{"name": "unit", "content": "c3VpdGU6IHVuaXQK"}],
                      "passedTests": [], "warnedTests": [], "failedTests": []},
    }


def with_change(doc: dict, change) -> dict:
    doc = copy.deepcopy(doc)
    change(doc["predicate"])
    return doc


def test_the_validator_rejects_the_old_record_shapes(intoto):
    """The shapes shipmark wrote before issue 8, each one field away from a passing Statement."""
    def empty_external(p):
        p["buildDefinition"]["externalParameters"] = {}

    def short_commit_digest(p):
        p["buildDefinition"]["resolvedDependencies"] = [{"uri": "git", "digest": {"gitCommit": "abc1234"}}]

    def name_only_configuration(p):
        p["configuration"] = [{"name": "unit"}]

    def lower_case_result(p):
        p["result"] = "passed"

    verdicts, code = intoto({
        "provenance-control": valid_provenance(),
        "test-control": valid_test_result(),
        "empty-external": with_change(valid_provenance(), empty_external),
        "short-commit": with_change(valid_provenance(), short_commit_digest),
        "name-only-configuration": with_change(valid_test_result(), name_only_configuration),
        "lower-case-result": with_change(valid_test_result(), lower_case_result),
    })
    assert verdicts == {
        "provenance-control": "ok",
        "test-control": "ok",
        "empty-external": "provenance: provenance.buildDefinition error: "
                          "buildDefinition.externalParameters required",
        "short-commit": "provenance: provenance.buildDefinition error: Invalid "
                        "BuildDefinition.ResolvedDependencies[0]: digest is not valid hex-encoded "
                        "string (gitCommit: abc1234)",
        "name-only-configuration": 'test-result: configuration[0]: a ResourceDescriptor must have '
                                   'a uri, digest or content (got {"name":"unit"})',
        "lower-case-result": 'test-result: result "passed" is not one of PASSED, WARNED, FAILED',
    }
    assert code == 1


def test_oras_pulls_a_record_as_statement_file_on_registry2(registry2, sm, tmp_path, intoto):
    repo = f"{registry2.host}/shipmark-test/{uuid.uuid4().hex[:12]}"
    store, ref = push_image(f"{repo}:1.0.1-b1.20261101.abcdef1")
    try:
        run = sm("mark", str(ref), "--suite", "unit", "--result", "passed",
                 "--url", "https://jenkins.example/job/app/9/", "--json")
        assert run.code == 0, run.err
        record, image = run.json["record"]["digest"], run.json["digest"]
        layer = store.get_manifest(parse(f"{repo}@{record}")).data["layers"][0]
        payload = store.get_blob(parse(repo, default_tag=None), layer["digest"])
        doc = statement(store, parse(repo, default_tag=None), record)
    finally:
        store.close()

    out = tmp_path / "pulled"
    pull = servers.run_tool("oras", "pull", "--plain-http", f"{repo}@{record}", "-o", str(out))
    # oras writes only layers that carry a title (org.opencontainers.image.title).
    assert out.is_dir() and sorted(p.name for p in out.iterdir()) == ["statement.intoto.json"], \
        pull.stdout + pull.stderr
    pulled = (out / "statement.intoto.json").read_bytes()
    assert pulled == payload and json.loads(pulled) == doc
    assert intoto({"pulled": pulled}) == ({"pulled": "ok"}, 0)

    found = json.loads(servers.run_tool("oras", "discover", "--format", "json", "--plain-http",
                                        f"{repo}@{image}").stdout)
    listed = found.get("referrers") or found.get("manifests") or []
    assert [(d["digest"], d.get("annotations", {}).get("dev.shipmark.kind")) for d in listed] == \
        [(record, "test")]
