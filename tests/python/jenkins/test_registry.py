"""The whole Jenkins story against a real Docker Registry 2.8 (no referrers API): record in the
producing build, mark from an acceptance build, a Promoted Builds approval running
`promote --from-promotion`, and Jenkins going down without losing a registry record."""

import json
import uuid

import pytest
from jenkins_support import BUILT, build_url

from shipmark.core.ref import parse
from shipmark.ops import images as image_ops
from shipmark.ops.demo import push_sample_image
from shipmark.stores import open_store

CARRIER = "team/app-promotion"


@pytest.fixture
def image(registry2):
    """A fresh repository on Registry 2.8 with one image; yields its reference text."""
    text = f"{registry2.host}/shipmark-test/{uuid.uuid4().hex[:12]}:1.4.2-b12.20261121.4f1c2e9"
    ref = parse(text)
    store = open_store(ref)
    try:
        push_sample_image(store, ref, "app", BUILT, "4f1c2e9")
    finally:
        store.close()
    return text


def load(text):
    ref = parse(text)
    store = open_store(ref)
    try:
        return image_ops.load(store, ref)
    finally:
        store.close()


def test_acceptance_mark_and_promotion_approval_on_registry_2_8(cli, image, jenkins_env, jd, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("channels:\n  stable: {require: [acceptance]}\n")
    # The producing build records provenance; recordImage archives the files and sets the description.
    jenkins_env.setenv("BUILD_URL", build_url(jd, 12))
    jenkins_env.setenv("GIT_COMMIT", "4f1c2e9a7b3d5f60812a3c4e")
    jenkins_env.setenv("GIT_BRANCH", "master")
    recorded = cli("record", image, "--json", "--out-dir", "shipmark")
    assert recorded.code == 0, recorded.err
    jd.build("team/app", 12)["description"] = (tmp_path / "shipmark/description.txt").read_text()
    pinned = recorded.json["image"]

    # The acceptance pipeline marks the image: the producing build shows the result.
    jenkins_env.setenv("BUILD_URL", build_url(jd, 7, "team/acceptance"))
    marked = cli("mark", image, "--suite", "acceptance", "--result", "passed", "--json")
    assert marked.code == 0, marked.err
    assert marked.json["jenkins"]["builds"][0]["status"] == "updated"
    assert "QA: acceptance passed" in jd.build("team/app", 12)["description"]
    assert jd.build("team/app", 12)["description"].count("shipmark: ") == 1

    # A Promoted Builds approval on the carrier build runs promote --from-promotion.
    jd.add_build(CARRIER, 3, parameters={"IMAGE": pinned})
    assert cli("jenkins", "approve", CARRIER, "3", "stable").code == 0
    jenkins_env.setenv("PROMOTED_JOB_FULL_NAME", CARRIER)
    jenkins_env.setenv("PROMOTED_NUMBER", "3")
    jenkins_env.setenv("BUILD_URL", build_url(jd, 3, CARRIER) + "promotion/stable/promotionBuild/1/")
    promoted = cli("promote", "--from-promotion", "--to", "stable", "--no-policy", "--json")
    assert promoted.code == 0, promoted.err
    assert promoted.json["promoted"] is True and promoted.json["jenkins"]["ok"] is True

    stable = load(image.rsplit(":", 1)[0] + ":stable")
    assert stable.digest == recorded.json["digest"]
    assert "stable" in stable.state.promotions
    build = jd.build("team/app", 12)
    assert build["keepLog"] is True and "channels: ★ stable (kept forever)" in build["description"]
    assert json.loads((tmp_path / "shipmark/provenance.json").read_text())["digest"] == stable.digest


def test_jenkins_down_keeps_the_registry_record(cli, image, jenkins_env, jd):
    prov = cli("record", image, "--build-url", build_url(jd, 12), "--git-commit", "4f1c2e9", "--json")
    assert prov.code == 0, prov.err
    jd.stop()
    run = cli("mark", image, "--suite", "acceptance", "--result", "failed", "--json")
    assert run.code == 0 and run.json["jenkins"]["ok"] is False and "warning: jenkins" in run.err
    assert load(image).state.result("acceptance") == "failed"
    strict = cli("reject", image, "--reason", "<b>flaky</b>", "--strict-jenkins")
    assert strict.code == 5 and load(image).state.rejected
