"""The nightly deploy against the real Docker Registry 2.8 (no referrers API): a history of several
services whose newest images failed acceptance or were rejected; plan picks the right ones,
rendering is byte-stable, deployment records round-trip, a failed apply rolls back."""

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from deploy_history import EXPECTED_STABLE, NOW, POLICY, POLICY_YAML, push_image, push_story  # noqa: E402

import servers  # noqa: E402  (tests/python is on sys.path through the root conftest)

from shipmark.ops import annotate, channel  # noqa: E402
from shipmark.ops.images import load  # noqa: E402
from shipmark.stores import open_store  # noqa: E402

NIGHTLY = "https://jenkins.example.com/job/nightly/{n}/"


def make_story(host, workdir):
    """STORY pushed to fresh repositories on Registry 2.8, with services.yaml and shipmark.yaml."""
    store, repos = push_story(host, "deploy")
    (workdir / "shipmark.yaml").write_text(POLICY_YAML)
    (workdir / "services.yaml").write_text("target: prod\nvars: {network: backend}\nservices:\n" + "".join(
        f"  - name: {n}\n    repo: {r.name}\n    vars: {{ports: ['{8080 + i}:8080']}}\n"
        for i, (n, r) in enumerate(sorted(repos.items()))))
    return Story(workdir, store, repos)


@pytest.fixture(scope="module")
def shared_story(registry2, tmp_path_factory):
    """One history for the tests that add no images; each of them deploys to a target of its own."""
    story = make_story(registry2.host, tmp_path_factory.mktemp("deploy-shared"))
    yield story
    story.store.close()


@pytest.fixture
def registry_story(registry2, tmp_path):
    """A history of its own, for a test that pushes more images."""
    story = make_story(registry2.host, tmp_path)
    yield story
    story.store.close()


class Story:
    def __init__(self, workdir, store, repos):
        self.workdir, self.store, self.repos = workdir, store, repos

    def shipmark(self, *argv, check=True):
        """The installed command in its own process, as the Jenkins steps run it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BUILD_", "JENKINS_", "SHIPMARK_BY"))}
        proc = subprocess.run([sys.executable, "-m", "shipmark", *map(str, argv)], cwd=self.workdir, env=env,
                              capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"shipmark {' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def json(self, *argv):
        return json.loads(self.shipmark(*argv, "--json").stdout)

    def good_build(self, name, ver, build):
        repo = self.repos[name]
        when = NOW - timedelta(hours=3)
        ref = push_image(self.store, repo, name, ver, build, when)
        annotate.provenance(store=self.store, ref=ref, now=when, by="ci", git_branch="master")
        annotate.mark(store=self.store, ref=ref, now=when, by="ci", suite="unit", result="passed")
        channel.promote(store=self.store, ref=ref, channel="testing", policy=POLICY, now=when, by="ci")
        annotate.mark(store=self.store, ref=ref, now=when, by="ci", suite="acceptance", result="passed")
        channel.promote(store=self.store, ref=ref, channel="stable", policy=POLICY, now=when, by="ci")
        return ref


def test_plan_picks_past_failed_and_rejected_images(shared_story):
    registry_story = shared_story
    plan = registry_story.json("plan", "--services", "services.yaml", "--channel", "stable", "--target", "plan")
    assert plan["target"] == "plan"
    picked = {s["name"]: s["tag"].split("-b")[0] for s in plan["services"]}
    assert picked == EXPECTED_STABLE
    for s in plan["services"]:
        assert s["image"] == f"{registry_story.repos[s['name']].name}@{s['digest']}"
        assert registry_story.store.head_manifest(registry_story.repos[s["name"]].with_tag(s["tag"])).digest == \
            s["digest"]
    skipped = {s["name"]: [k["tag"].split("-b")[0] for k in s["skipped"]] for s in plan["services"]}
    assert skipped == {"api": ["1.3.0", "1.2.0"], "web": ["2.2.0", "2.1.0"], "worker": []}


def test_rendering_is_byte_stable_across_processes(shared_story):
    registry_story = shared_story
    templates = ["--template", "docker-compose.yml.j2", "--template", "kustomization.yaml.j2",
                 "--template", "images.env.j2", "--target", "render"]
    registry_story.shipmark("render", "--services", "services.yaml", *templates, "--out", "a")
    registry_story.shipmark("deployed", "--services", "services.yaml", "--target", "render",
                            "--by", NIGHTLY.format(n=1))
    registry_story.shipmark("render", "--services", "services.yaml", *templates, "--out", "b")
    a, b = registry_story.workdir / "a", registry_story.workdir / "b"
    names = sorted(p.name for p in a.iterdir())
    assert names == ["docker-compose.yml", "images.env", "kustomization.yaml"]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes()
        text = (a / name).read_text()
        assert "latest" not in text and text.count("@sha256:") + text.count('digest: "sha256:') == 3


def test_deployment_records_round_trip(shared_story):
    registry_story = shared_story
    result = registry_story.json("deployed", "--services", "services.yaml", "--target", "roundtrip",
                                 "--by", NIGHTLY.format(n=4))
    assert result["result"] == "succeeded" and len(result["services"]) == 3
    fresh = open_store(registry_story.repos["api"])   # a new client: nothing cached in memory
    try:
        for s in result["services"]:
            repo = registry_story.repos[s["name"]]
            assert fresh.head_manifest(repo.with_tag("deployed.roundtrip")).digest == s["digest"]
            image = load(fresh, repo.with_digest(s["digest"]))
            (rec,) = [r for r in image.records if r.kind == "deployment" and r.target == "roundtrip"]
            assert (rec.result, rec.by, rec.previous) == ("succeeded", NIGHTLY.format(n=4), "none")
            assert rec.digest == s["record"]["digest"]
            manifest = fresh.get_manifest(repo.with_digest(rec.digest)).data
            assert manifest["subject"]["digest"] == s["digest"]
            payload = json.loads(fresh.get_blob(repo, manifest["layers"][0]["digest"]))
            assert payload["predicateType"] == "https://shipmark.dev/deployment/v1"
            predicate = payload["predicate"]
            assert (predicate["service"], predicate["tag"], predicate["target"], predicate["result"]) == \
                (s["name"], s["tag"], "roundtrip", "succeeded")
    finally:
        fresh.close()
    # A peer client sees the target tag too.
    tags = json.loads(servers.run_tool("skopeo", "list-tags", "--tls-verify=false",
                                       f"docker://{registry_story.repos['api'].name}").stdout)["Tags"]
    assert "deployed.roundtrip" in tags
    plan = registry_story.json("plan", "--services", "services.yaml", "--target", "roundtrip")
    api = next(s for s in result["services"] if s["name"] == "api")
    assert (plan["services"][0]["change"], plan["services"][0]["deployed"]) == ("none", api["image"])
    assert plan["services"][0]["deployed_at"] == api["record"]["created"]


def test_a_failed_apply_is_recorded_and_rolls_back(registry_story):
    registry_story.shipmark("deployed", "--services", "services.yaml", "--by", NIGHTLY.format(n=1))
    registry_story.shipmark("render", "--services", "services.yaml", "--template", "docker-compose.yml.j2",
                            "--out", "before")
    registry_story.good_build("api", "1.5.0", 7)
    registry_story.good_build("web", "2.3.0", 8)
    plan = registry_story.json("plan", "--services", "services.yaml")
    assert [s["change"] for s in plan["services"]] == ["upgrade", "upgrade", "none"]
    (registry_story.workdir / "plan.json").write_text(json.dumps(plan))
    registry_story.shipmark("render", "--services", "services.yaml", "--plan", "plan.json",
                            "--template", "docker-compose.yml.j2", "--out", "deploy")
    assert (registry_story.workdir / "deploy" / "docker-compose.yml").read_bytes() != \
        (registry_story.workdir / "before" / "docker-compose.yml").read_bytes()
    # The apply command failed: record it and render the previous set over the failed one.
    failed = registry_story.json("deployed", "--services", "services.yaml", "--plan", "plan.json", "--failed",
                                 "--reason", "compose up exited 1", "--rollback",
                                 "--template", "docker-compose.yml.j2", "--out", "deploy", "--by", NIGHTLY.format(n=2))
    assert failed["result"] == "failed" and failed["unchanged"] == ["worker"]
    assert [(s["name"], s["record"]["result"]) for s in failed["services"]] == [("api", "failed"), ("web", "failed")]
    assert (registry_story.workdir / "deploy" / "docker-compose.yml").read_bytes() == \
        (registry_story.workdir / "before" / "docker-compose.yml").read_bytes()
    assert [s["name"] for s in failed["rollback"]["services"]] == ["api", "web", "worker"]
    # The target still runs the old set, and the next night does not try the failed images again.
    again = registry_story.json("plan", "--services", "services.yaml")
    assert [s["change"] for s in again["services"]] == ["none", "none", "none"]
    assert [s["deployed"] for s in again["services"]] == [s["deployed"] for s in plan["services"]]
    reasons = [r for s in again["services"] for k in s["skipped"] for r in k["reasons"]]
    assert sum("deploying to prod failed" in r for r in reasons) == 2


def test_a_repository_that_does_not_exist_is_a_gap_and_exit_3_with_require_all(shared_story, registry2):
    registry_story = shared_story
    (registry_story.workdir / "empty.yaml").write_text(
        f"services:\n  - name: ghost\n    repo: {registry2.host}/nothing-{uuid.uuid4().hex[:6]}/here\n")
    plan = registry_story.json("plan", "--services", "empty.yaml", "--no-policy")
    assert plan["missing"] == ["ghost"]
    assert plan["services"][0]["reasons"][0].endswith("has no tags (it does not exist): push a version-tagged "
                                                      "image there (see `shipmark tag`), or fix the service's repo "
                                                      "in the services file")
    proc = registry_story.shipmark("plan", "--services", "empty.yaml", "--no-policy", "--require-all", check=False)
    assert proc.returncode == 3 and "no image for ghost (--require-all)" in proc.stderr


def test_a_version_tag_pushed_again_is_not_planned_from_the_cache(registry_story):
    first = registry_story.json("plan", "--services", "services.yaml", "--only", "worker")["services"][0]
    # Someone pushes another image under the picked version tag (shipmark's model says they should not).
    repo = registry_story.repos["worker"]
    other = push_image(registry_story.store, repo, "worker", "9.9.9", 99, NOW)
    registry_story.store.put_manifest(repo.with_tag(first["tag"]), registry_story.store.get_manifest(other))
    again = registry_story.json("plan", "--services", "services.yaml", "--only", "worker")["services"][0]
    # The cached digest of that tag is not trusted: the image now under it has no records, so the
    # walk goes on to the next eligible one.
    assert again["digest"] != first["digest"]
    assert again["tag"].startswith("0.1.0") and "9.9.9" not in again["tag"]
