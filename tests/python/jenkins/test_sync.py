"""record --out-dir, and the producing build after mark / promote / reject / restore / rollback."""

import json

from jenkins_support import TOKEN, build_url

from shipmark.core.ref import parse
from shipmark.ops import images as image_ops
from shipmark.ops.description import merge_description
from shipmark.stores.ocidir import OciDirStore

POLICY = "channels:\n  testing: {require: [unit]}\n  stable: {require: [acceptance], after: testing}\n"


def records(text):
    ref = parse(text)
    return image_ops.load(OciDirStore(ref.registry), ref).state


# -- record --out-dir ---------------------------------------------------------------------------

def test_record_writes_provenance_and_a_plain_text_description(cli, images, env, jd, tmp_path):
    image = images.push("1.4.2-b12.20261121.4f1c2e9")
    env.setenv("BUILD_URL", build_url(jd, 12))
    env.setenv("GIT_COMMIT", "4f1c2e9a7b3d5f60812a3c4e")
    env.setenv("GIT_BRANCH", "master")
    run = cli("record", image, "--json", "--out-dir", "shipmark")
    assert run.code == 0, run.err
    out = run.json
    assert out["files"] == ["shipmark/provenance.json", "shipmark/description.txt"]
    prov = json.loads((tmp_path / "shipmark/provenance.json").read_text())
    assert prov["image"] == out["image"] and prov["digest"] == out["digest"]
    assert prov["record"]["digest"] == out["record"]["digest"]
    assert prov["statement"]["predicate"]["runDetails"]["metadata"]["invocationId"] == build_url(jd, 12)
    assert [i["image"] for i in prov["images"]] == [out["image"]]
    text = (tmp_path / "shipmark/description.txt").read_text()
    assert text.startswith(f"shipmark: ocidir://{images.layout}:1.4.2-b12.20261121.4f1c2e9\n")
    assert f"image: {out['image']}\n" in text and "commit: 4f1c2e9a7b3d on master\n" in text
    assert "QA: not tested yet\n" in text and "<" not in text


def test_record_twice_in_one_build_keeps_both_images(cli, images, tmp_path):
    one, two = images.push("1.0.0-b1"), images.push("1.0.1-b1", commit="abcdef0123456")
    first = cli("record", one, "--json", "--out-dir", "out", "--git-commit", "4f1c2e9").json
    second = cli("record", two, "--json", "--out-dir", "out", "--git-commit", "4f1c2e9").json
    prov = json.loads((tmp_path / "out/provenance.json").read_text())
    assert prov["image"] == second["image"]
    assert [i["image"] for i in prov["images"]] == [first["image"], second["image"]]
    text = (tmp_path / "out/description.txt").read_text()
    assert text.count("shipmark: ") == 2 and first["digest"] in text and second["digest"] in text


def test_record_html_description_is_escaped(cli, images, env, tmp_path):
    env.setenv("SHIPMARK_BY", "<script>alert(1)</script>")
    run = cli("record", images.push("1.0.0-b1"), "--out-dir", "out", "--description-format", "html",
              "--git-commit", "4f1c2e9")
    assert run.code == 0, run.err
    html = (tmp_path / "out/description.html").read_text()
    assert html.startswith('<div class="shipmark"') and "&lt;script&gt;" in html and "<script>" not in html


# -- the producing build ------------------------------------------------------------------------

def test_mark_describes_the_producing_build(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    jenkins_env.setenv("BUILD_URL", jd.url + "job/team/job/acceptance/7/")
    run = cli("mark", image, "--suite", "acceptance", "--result", "passed", "--json")
    assert run.code == 0, run.err
    sync = run.json["jenkins"]
    assert sync["ok"] is True
    assert sync["builds"][0] | {"kept": False, "status": "updated"} == sync["builds"][0]
    assert sync["builds"][0]["job"] == "team/app" and sync["builds"][0]["number"] == 12
    description = jd.build("team/app", 12)["description"]
    assert "QA: acceptance passed\n" in description
    assert description.splitlines()[-1].endswith(f"UTC: acceptance passed by {jd.url}job/team/job/acceptance/7/")
    assert jd.build("team/app", 12)["keepLog"] is False
    assert run.err == ""


def test_text_output_says_which_build(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    run = cli("mark", image, "--suite", "unit", "--result", "failed")
    assert run.code == 0 and "jenkins: described team/app #12" in run.out


def test_promote_to_a_keep_channel_keeps_the_producing_build_and_stars_the_channel(cli, images, jenkins_env, jd,
                                                                                  tmp_path):
    (tmp_path / "shipmark.yaml").write_text(POLICY)
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    cli("mark", image, "--suite", "unit", "--result", "passed")
    jenkins_env.setenv("SHIPMARK_KEEP_BUILD_FOR", "testing")
    run = cli("promote", image, "--to", "testing", "--json")
    assert run.code == 0, run.err
    assert run.json["jenkins"]["builds"][0]["kept"] is True
    assert run.json["jenkins"]["builds"][0]["kept_now"] is True
    build = jd.build("team/app", 12)
    assert build["keepLog"] is True
    assert "channels: ★ testing (kept forever)" in build["description"]
    again = cli("promote", image, "--to", "testing", "--json")      # already in testing: no second toggle
    assert again.json["jenkins"]["builds"][0]["kept_now"] is False
    assert jd.build("team/app", 12)["keepLog"] is True
    assert len(jd.requests_to("/12/toggleLogKeep", "POST")) == 1


def test_promote_of_a_build_kept_by_hand_does_not_toggle_it_off(cli, images, jenkins_env, jd, tmp_path):
    (tmp_path / "shipmark.yaml").write_text(POLICY)
    jd.build("team/app", 11)["keepLog"] = True
    image = images.push("1.4.1-b11", build_url=build_url(jd, 11))
    cli("mark", image, "--suite", "unit", "--result", "passed")
    assert cli("promote", image, "--to", "testing").code == 0
    assert jd.build("team/app", 11)["keepLog"] is True
    assert jd.requests_to("/11/toggleLogKeep") == []


def test_dry_run_leaves_jenkins_alone(cli, images, jenkins_env, jd, tmp_path):
    (tmp_path / "shipmark.yaml").write_text(POLICY)
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    cli("mark", image, "--suite", "unit", "--result", "passed", "--no-jenkins")
    run = cli("promote", image, "--to", "testing", "--dry-run", "--json")
    assert run.code == 0 and "jenkins" not in run.json
    assert jd.requests_to("/12/submitDescription") == []


def test_other_paragraphs_of_the_description_stay(cli, images, jenkins_env, jd):
    jd.build("team/app", 12)["description"] = "Release candidate <b>for</b> Q4\n\nsee ticket OPS-12"
    api = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    worker = images.push("0.9.0-b12", build_url=build_url(jd, 12), commit="0123456789abcdef")
    cli("mark", api, "--suite", "unit", "--result", "passed")
    cli("mark", worker, "--suite", "unit", "--result", "failed")
    cli("mark", api, "--suite", "acceptance", "--result", "passed")
    text = jd.build("team/app", 12)["description"]
    paragraphs = text.strip().split("\n\n")
    assert paragraphs[:2] == ["Release candidate <b>for</b> Q4", "see ticket OPS-12"]
    assert len(paragraphs) == 4
    assert "QA: acceptance passed, unit passed" in paragraphs[2] and "QA: unit failed" in paragraphs[3]


def test_merge_replaces_only_shipmark_paragraphs_of_the_digest():
    digest = "sha256:" + "a" * 64
    user = f"deployed {digest} to prod by hand"
    old = f"shipmark: reg/app:1\nimage: reg/app@{digest}\nQA: not tested yet"
    merged = merge_description(f"{user}\n\n{old}\n", "shipmark: NEW " + digest, digest)
    assert merged == f"{user}\n\nshipmark: NEW {digest}\n"


def test_markup_in_a_reason_stays_literal_in_plain_text(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    reason = "<img src=x onerror=alert(1)> & p95\n\ndoubled"
    run = cli("reject", image, "--reason", reason, "--json")
    assert run.code == 0, run.err
    description = jd.build("team/app", 12)["description"]
    assert "REJECTED: <img src=x onerror=alert(1)> & p95 doubled" in description   # literal, one line
    assert description.strip().count("\n\n") == 0


def test_markup_in_a_reason_is_escaped_in_html(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    run = cli("reject", image, "--reason", "<img src=x onerror=alert(1)>", "--description-format", "html")
    assert run.code == 0, run.err
    description = jd.build("team/app", 12)["description"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in description and "<img" not in description


def test_restore_clears_rejected(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    cli("reject", image, "--reason", "flaky")
    assert "REJECTED: flaky" in jd.build("team/app", 12)["description"]
    cli("restore", image, "--reason", "was the network")
    description = jd.build("team/app", 12)["description"]
    assert "REJECTED" not in description and "restored: was the network" in description


def test_mark_by_digest_keeps_the_tag_the_description_names(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    digest = cli("mark", image, "--suite", "unit", "--result", "passed", "--json").json["digest"]
    pinned = f"ocidir://{images.layout}@{digest}"
    cli("mark", pinned, "--suite", "acceptance", "--result", "passed")
    assert f"shipmark: ocidir://{images.layout}:1.4.2-b12\n" in jd.build("team/app", 12)["description"]


def test_build_url_only_in_the_by_annotation_is_used(cli, images, jenkins_env, jd):
    """Provenance written without --build-url still names the build in dev.shipmark.by."""
    image = images.push("1.4.2-b11", by=build_url(jd, 11))
    assert cli("mark", image, "--suite", "unit", "--result", "passed").code == 0
    assert "QA: unit passed" in jd.build("team/app", 11)["description"]


def test_multibranch_build_url(cli, images, jenkins_env, jd):
    jd.add_job("app/feature%2Fx")
    jd.add_build("app/feature%2Fx", 3)
    url = jd.url + "job/app/job/feature%252Fx/3/"
    image = images.push("1.5.0-b3", build_url=url)
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--json")
    assert run.json["jenkins"]["builds"][0]["job"] == "app/feature%2Fx", run.err
    assert "QA: unit passed" in jd.build("app/feature%2Fx", 3)["description"]


def test_rollback_describes_both_builds(cli, images, jenkins_env, jd, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("channels:\n  stable: {}\n")
    old = images.push("1.4.1-b11", build_url=build_url(jd, 11))
    new = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    cli("promote", old, "--to", "stable")
    cli("promote", new, "--to", "stable")
    run = cli("rollback", f"ocidir://{images.layout}", "--channel", "stable", "--reason", "p95 doubled", "--json")
    assert run.code == 0, run.err
    assert [b["number"] for b in run.json["jenkins"]["builds"]] == [11, 12]
    assert "stable rolled back to this image" in jd.build("team/app", 11)["description"]
    assert "REJECTED: rolled back: p95 doubled" in jd.build("team/app", 12)["description"]


# -- Jenkins failures never fail the registry operation ------------------------------------------

def test_jenkins_down_is_a_warning_and_the_record_stands(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    jd.stop()
    run = cli("mark", image, "--suite", "acceptance", "--result", "passed", "--json")
    assert run.code == 0
    assert run.json["jenkins"]["ok"] is False
    assert run.json["jenkins"]["builds"][0]["error"]["type"] == "JenkinsError"
    assert run.err.startswith("shipmark: warning: jenkins: could not update build team/app #12")
    assert "the registry change stands" in run.err and run.err.count("\n") == 1
    assert records(image).result("acceptance") == "passed"


def test_jenkins_down_with_strict_exits_5(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    jd.stop()
    run = cli("mark", image, "--suite", "acceptance", "--result", "passed", "--strict-jenkins", "--json")
    assert run.code == 5 and run.err.startswith("shipmark: error: jenkins:")
    assert run.json["result"] == "passed" and run.json["jenkins"]["ok"] is False
    assert records(image).result("acceptance") == "passed"
    jenkins_env.setenv("SHIPMARK_STRICT_JENKINS", "1")
    assert cli("mark", image, "--suite", "unit", "--result", "passed").code == 5


def test_jenkins_dropping_connections_mid_sync(cli, images, jenkins_env, jd, tmp_path):
    """The build is read, then Jenkins stops answering before the description is posted."""
    (tmp_path / "shipmark.yaml").write_text(POLICY)
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    cli("mark", image, "--suite", "unit", "--result", "passed", "--no-jenkins")
    jd.break_after(2)                   # crumb + build JSON, then nothing
    run = cli("promote", image, "--to", "testing", "--json")
    assert run.code == 0 and run.json["promoted"] is True
    assert run.json["jenkins"]["ok"] is False and "connection" in run.json["jenkins"]["builds"][0]["error"]["message"]
    assert "testing" in records(image).promotions


def test_wrong_token_is_a_warning_without_the_token(cli, images, jenkins_env, jd):
    wrong = "wrong-" + TOKEN[6:]
    jenkins_env.setenv("JENKINS_API_TOKEN", wrong)
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--json")
    assert run.code == 0 and "401" in run.err
    assert wrong not in run.err and wrong not in run.out


def test_user_without_token_is_a_warning_naming_the_variable(cli, images, jenkins_env, jd):
    jenkins_env.delenv("JENKINS_API_TOKEN")
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    run = cli("mark", image, "--suite", "unit", "--result", "passed")
    assert run.code == 0 and "JENKINS_API_TOKEN" in run.err


def test_deleted_build_is_a_not_found_warning(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b9", build_url=build_url(jd, 9))
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--json")
    assert run.code == 0
    assert run.json["jenkins"]["builds"][0]["error"]["type"] == "NotFoundError"
    assert "log rotation" in run.err


def test_image_without_provenance_is_skipped_even_when_strict(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12")
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--strict-jenkins", "--json")
    assert run.code == 0 and run.err == ""
    assert run.json["jenkins"]["builds"][0]["status"] == "skipped"
    assert "no provenance record" in run.json["jenkins"]["builds"][0]["reason"]


def test_provenance_from_outside_jenkins_is_skipped(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", by="alice@example.com")
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--json")
    assert run.json["jenkins"]["builds"][0]["status"] == "skipped"


def test_without_jenkins_url_nothing_is_tried(cli, images, env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--json")
    assert run.code == 0 and "jenkins" not in run.json and jd.seen == []


def test_no_jenkins_flag(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--no-jenkins", "--json")
    assert run.code == 0 and "jenkins" not in run.json and jd.seen == []


def test_jenkins_sync_command_refreshes_after_an_outage(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    jd.break_after(0)
    assert cli("mark", image, "--suite", "unit", "--result", "passed").code == 0
    jd.break_after(None)                # Jenkins is back
    run = cli("jenkins", "sync", image, "--keep", "--json")
    assert run.code == 0, run.err
    build = jd.build("team/app", 12)
    assert "QA: unit passed" in build["description"] and build["keepLog"] is True


def test_jenkins_sync_without_provenance_is_not_found(cli, images, jenkins_env, jd):
    run = cli("jenkins", "sync", images.push("1.0.0-b1"))
    assert run.code == 4 and "no producing build" in run.err


def test_a_build_on_another_jenkins_is_left_alone(cli, images, jenkins_env, jd):
    """Same job name and number on another controller: not this build."""
    image = images.push("1.4.2-b12", build_url="https://jenkins.example.com/job/team/job/app/12/")
    run = cli("mark", image, "--suite", "unit", "--result", "passed", "--json")
    assert run.code == 0 and run.json["jenkins"]["builds"][0]["status"] == "skipped"
    assert "is not on" in run.json["jenkins"]["builds"][0]["reason"]
    assert jd.requests_to("/12/submitDescription") == [] and jd.requests_to("/12/api/json") == []
