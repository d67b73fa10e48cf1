"""Promoted Builds: promote --from-promotion, shipmark jenkins promotions|approve|force|builds."""

import json

import requests
from jenkins_support import TOKEN, USER, VIEWER_TOKEN, build_url

from shipmark.core.ref import parse
from shipmark.ops import images as image_ops
from shipmark.stores.ocidir import OciDirStore

CARRIER = "team/app-promotion"


def state(text):
    ref = parse(text)
    return image_ops.load(OciDirStore(ref.registry), ref).state


def pinned(cli, image):
    return cli("status", image, "--json").json["image"]


def in_promotion(env, number=3):
    """The variables Promoted Builds sets in a promotion build of the carrier job."""
    env.setenv("PROMOTED_JOB_FULL_NAME", CARRIER)
    env.setenv("PROMOTED_NUMBER", str(number))


# -- promote --from-promotion ------------------------------------------------------------------

def test_from_promotion_takes_the_image_variable(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    ref = pinned(cli, image)
    in_promotion(jenkins_env)
    jenkins_env.setenv("IMAGE", ref)
    run = cli("promote", "--from-promotion", "--to", "stable", "--no-policy", "--json")
    assert run.code == 0, run.err
    assert run.json["promoted"] is True and run.json["image"] == ref
    assert run.json["from_promotion"] == {"job": CARRIER, "number": 3, "image_from": "the IMAGE variable"}
    assert "stable" in state(image).promotions
    assert jd.build("team/app", 12)["keepLog"] is True                     # the producing build, kept
    assert "★ stable" in jd.build("team/app", 12)["description"]


def test_from_promotion_to_a_keep_channel_keeps_the_carrier_build_too(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    jd.add_build(CARRIER, 3, parameters={"IMAGE": pinned(cli, image)})
    in_promotion(jenkins_env)
    run = cli("promote", "--from-promotion", "--to", "stable", "--no-policy", "--json")
    assert run.code == 0, run.err
    assert jd.build(CARRIER, 3)["keepLog"] is True and jd.build("team/app", 12)["keepLog"] is True
    assert run.json["promoted_build"]["kept_now"] is True


def test_promotions_to_other_channels_keep_no_build(cli, images, jenkins_env, jd, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {}\n  stable: {}\n")
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    jd.add_build(CARRIER, 3, parameters={"IMAGE": pinned(cli, image)})
    in_promotion(jenkins_env)
    run = cli("promote", "--from-promotion", "--to", "testing", "--no-policy", "--json")
    assert run.code == 0, run.err
    assert jd.build(CARRIER, 3)["keepLog"] is False and jd.build("team/app", 12)["keepLog"] is False
    assert "★ testing" in jd.build("team/app", 12)["description"]
    assert jd.requests_to("/toggleLogKeep") == []


def test_keep_build_for_names_the_channels_that_keep(cli, images, jenkins_env, jd, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {}\n  stable: {}\n")
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    assert cli("promote", image, "--to", "testing", "--keep-build-for", "testing,prod").code == 0
    assert jd.build("team/app", 12)["keepLog"] is True
    jenkins_env.setenv("SHIPMARK_KEEP_BUILD_FOR", "")
    other = images.push("1.4.3-b11", build_url=build_url(jd, 11))
    assert cli("promote", other, "--to", "stable").code == 0
    assert jd.build("team/app", 11)["keepLog"] is False


def test_from_promotion_reads_the_carrier_builds_image_parameter(cli, images, jenkins_env, jd):
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    ref = pinned(cli, image)
    jd.add_build(CARRIER, 3, parameters={"IMAGE": ref})
    in_promotion(jenkins_env)
    run = cli("promote", "--from-promotion", "--to", "stable", "--no-policy", "--json")
    assert run.code == 0, run.err
    assert run.json["from_promotion"]["image_from"] == f"the IMAGE parameter of build {CARRIER} #3"
    assert "stable" in state(image).promotions


def test_from_promotion_falls_back_to_the_archived_provenance(cli, images, jenkins_env, jd, tmp_path):
    image = images.push("1.4.2-b12")
    jenkins_env.setenv("BUILD_URL", build_url(jd, 12))
    cli("record", image, "--out-dir", "shipmark", "--git-commit", "4f1c2e9")
    jd.add_job("team/legacy", kind="freestyle", processes=["stable"])
    jd.add_build("team/legacy", 40, artifacts={"shipmark/provenance.json": (tmp_path / "shipmark/provenance.json").read_bytes()})
    jenkins_env.setenv("PROMOTED_JOB_FULL_NAME", "team/legacy")
    jenkins_env.setenv("PROMOTED_NUMBER", "40")
    run = cli("promote", "--from-promotion", "--to", "stable", "--no-policy", "--json")
    assert run.code == 0, run.err
    assert run.json["from_promotion"]["image_from"] == "shipmark/provenance.json of build team/legacy #40"
    assert "stable" in state(image).promotions


def test_from_promotion_on_a_build_without_provenance_is_not_found(cli, jenkins_env, jd):
    jd.add_build(CARRIER, 4)
    in_promotion(jenkins_env, 4)
    run = cli("promote", "--from-promotion", "--to", "stable", "--json")
    assert run.code == 4
    assert run.json["error"]["message"] == (f"build {CARRIER} #4 has no IMAGE parameter and no archived "
                                            "shipmark/provenance.json")


def test_from_promotion_on_an_unknown_build_is_not_found(cli, jenkins_env, jd):
    in_promotion(jenkins_env, 77)
    run = cli("promote", "--from-promotion", "--to", "stable")
    assert run.code == 4 and f"build {CARRIER} #77" in run.err


def test_from_promotion_outside_a_promotion_is_bad_input(cli, jenkins_env):
    run = cli("promote", "--from-promotion", "--to", "stable")
    assert run.code == 2 and "PROMOTED_JOB_FULL_NAME" in run.err


def test_from_promotion_with_an_image_argument_is_bad_input(cli, jenkins_env):
    in_promotion(jenkins_env)
    assert cli("promote", "reg/app:1", "--from-promotion", "--to", "stable").code == 2


def test_from_promotion_when_jenkins_is_down_and_no_image_variable(cli, jenkins_env, jd):
    in_promotion(jenkins_env)
    jd.stop()
    run = cli("promote", "--from-promotion", "--to", "stable")
    assert run.code == 5 and "cannot reach Jenkins" in run.err


def test_from_promotion_policy_refusal_is_exit_3(cli, images, jenkins_env, jd, tmp_path):
    (tmp_path / "strict.yaml").write_text("channels:\n  stable: {require: [acceptance]}\n")
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    in_promotion(jenkins_env)
    jenkins_env.setenv("IMAGE", pinned(cli, image))
    run = cli("promote", "--from-promotion", "--to", "stable", "--policy", "strict.yaml")
    assert run.code == 3 and jd.requests_to("/12/toggleLogKeep") == []


def test_from_promotion_ignores_the_build_environment_and_workspace_policy(cli, images, jenkins_env, jd, tmp_path):
    """SHIPMARK_POLICY is a build parameter anyone may set, the workspace anyone's build may fill:
    inside a promotion neither chooses the policy; without a published one it is exit 2."""
    (tmp_path / "lenient.yaml").write_text("channels:\n  stable: {}\n")
    (tmp_path / "shipmark.yaml").write_text("channels:\n  stable: {}\n")
    jenkins_env.setenv("SHIPMARK_POLICY", str(tmp_path / "lenient.yaml"))
    image = images.push("1.4.2-b12", build_url=build_url(jd, 12))
    in_promotion(jenkins_env)
    jenkins_env.setenv("IMAGE", pinned(cli, image))
    run = cli("promote", "--from-promotion", "--to", "stable")
    assert run.code == 2 and "no policy" in run.err and "stable" not in state(image).promotions


# -- shipmark jenkins promotions | approve | force -----------------------------------------------

def test_promotions_lists_every_process(cli, jenkins_env, jd):
    jd.add_build(CARRIER, 3, parameters={"IMAGE": "x"})
    jd.promote(jd.items[CARRIER], 3, "testing", USER)
    run = cli("jenkins", "promotions", CARRIER, "3", "--json")
    assert run.code == 0, run.err
    assert run.json["promotions"] == [
        {"name": "testing", "status": "promoted", "builds": [{"number": 1, "result": "SUCCESS", "building": False}]},
        {"name": "stable", "status": "pending", "builds": []},
    ]
    text = cli("jenkins", "promotions", CARRIER, "3").out
    assert "testing          promoted  (#1 SUCCESS)" in text and "stable           pending" in text
    query = jd.requests_to("/3/api/json")[-1].query
    assert "tree=actions%5Bpromotions%5Bname%2CpromotionBuilds%5Bnumber%2Cresult" in query


def test_approve_runs_the_manual_condition(cli, jenkins_env, jd):
    jd.add_build(CARRIER, 3)
    run = cli("jenkins", "approve", CARRIER, "3", "stable", "--json")
    assert run.code == 0, run.err
    assert run.json["before"] == "pending" and run.json["after"] == "promoted"
    post = jd.requests_to("/promotionCondition/hudson.plugins.promoted_builds.conditions.ManualCondition/approve")[0]
    assert post.method == "POST" and json.loads(post.form["json"][0]) == {"parameter": []}


def test_approve_with_parameters(cli, jenkins_env, jd):
    jd.add_build(CARRIER, 3)
    assert cli("jenkins", "approve", CARRIER, "3", "stable", "--param", "TICKET=OPS-12").code == 0
    post = jd.requests_to("/approve", "POST")[0]
    assert json.loads(post.form["json"][0]) == {"parameter": [{"name": "TICKET", "value": "OPS-12"}]}


def as_user(env, jd, name, permissions):
    """Log the helper in as a new user with only these permissions."""
    jd.add_user(name, token=f"{name}-token-0123456789abcdef", permissions=permissions)
    env.setenv("JENKINS_USER", name)
    env.setenv("JENKINS_API_TOKEN", f"{name}-token-0123456789abcdef")


def test_approve_by_a_promoter_not_on_the_approvers_list_is_ignored_and_said_so(cli, jenkins_env, jd):
    jd.items[CARRIER].manual["stable"] = ["release-manager"]
    jd.add_build(CARRIER, 3)
    as_user(jenkins_env, jd, "dev", {"read", "promote"})
    run = cli("jenkins", "approve", CARRIER, "3", "stable")
    assert run.code == 0 and "is pending" in run.out and "not allowed to approve" in run.out
    assert "lists approvers accepts only those users and groups" in run.out
    assert jd.promotions(CARRIER, 3) == []


def test_a_listed_approver_needs_no_promote_permission(cli, jenkins_env, jd):
    jd.items[CARRIER].manual["stable"] = ["alice"]
    jd.add_build(CARRIER, 3)
    jd.add_build(CARRIER, 4)
    as_user(jenkins_env, jd, "alice", {"read"})
    assert cli("jenkins", "approve", CARRIER, "3", "stable", "--json").json["after"] == "promoted"
    assert cli("jenkins", "force", CARRIER, "4", "stable", "--json").json["after"] == "promoted"


def test_an_administrator_may_approve_without_being_listed(cli, jenkins_env, jd):
    jd.items[CARRIER].manual["stable"] = ["alice"]
    jd.add_build(CARRIER, 3)
    as_user(jenkins_env, jd, "root", {"read", "administer"})
    assert cli("jenkins", "approve", CARRIER, "3", "stable", "--json").json["after"] == "promoted"


def test_force_by_a_promoter_not_on_the_approvers_list_is_refused(cli, jenkins_env, jd):
    jd.items[CARRIER].manual["stable"] = ["alice"]
    jd.add_build(CARRIER, 3)
    as_user(jenkins_env, jd, "dev", {"read", "promote"})
    run = cli("jenkins", "force", CARRIER, "3", "stable")
    assert run.code == 5 and "to be one of them or an administrator" in run.err


def test_an_approval_that_jenkins_queued_is_reported_as_queued(cli, jenkins_env, jd):
    jd.queue_promotions = True
    jd.add_build(CARRIER, 3)
    run = cli("jenkins", "approve", CARRIER, "3", "stable", "--json")
    assert run.code == 0, run.err
    assert run.json["before"] == "pending" and run.json["after"] == "queued"
    assert "is queued (Jenkins queued the promotion" in cli("jenkins", "approve", CARRIER, "3", "stable").out
    jd.start_queued()
    assert cli("jenkins", "promotions", CARRIER, "3", "--json").json["promotions"][1]["status"] == "promoted"


def test_a_forced_promotion_that_jenkins_queued_is_reported_as_queued(cli, jenkins_env, jd):
    jd.queue_promotions = True
    jd.add_build(CARRIER, 3)
    run = cli("jenkins", "force", CARRIER, "3", "testing", "--json")
    assert run.json["after"] == "queued" and run.json["promotions"][0]["builds"] == []
    text = cli("jenkins", "promotions", CARRIER, "3").out
    assert "testing          queued" in text and "stable           pending" in text


def test_approve_form_without_json_is_400(jd):
    jd.add_build(CARRIER, 3)
    url = (build_url(jd, 3, CARRIER) + "promotion/promotionProcess/stable/promotionCondition/"
           "hudson.plugins.promoted_builds.conditions.ManualCondition/approve")
    response = requests.post(url, auth=(USER, TOKEN), data={"Submit": "Approve"}, allow_redirects=False)
    assert response.status_code == 400


def test_approve_a_process_without_manual_condition_is_not_found(cli, jenkins_env, jd):
    jd.add_build(CARRIER, 3)
    run = cli("jenkins", "approve", CARRIER, "3", "testing")
    assert run.code == 4 and "jenkins force" in run.err


def test_force_promotes(cli, jenkins_env, jd):
    jd.add_build(CARRIER, 3)
    run = cli("jenkins", "force", CARRIER, "3", "testing", "--json")
    assert run.code == 0, run.err
    assert run.json["after"] == "promoted"
    assert jd.requests_to("/3/promotion/forcePromotion", "POST")[0].query == "name=testing"


def test_force_an_unknown_process_is_not_found(cli, jenkins_env, jd):
    jd.add_build(CARRIER, 3)
    run = cli("jenkins", "force", CARRIER, "3", "prod")
    assert run.code == 4 and "its processes: testing, stable" in run.err
    assert jd.requests_to("/forcePromotion") == []


def test_force_without_permission_is_403(cli, jenkins_env, jd):
    jenkins_env.setenv("JENKINS_USER", "viewer")
    jenkins_env.setenv("JENKINS_API_TOKEN", VIEWER_TOKEN)
    jd.add_build(CARRIER, 3)
    run = cli("jenkins", "force", CARRIER, "3", "testing")
    assert run.code == 5 and "Promotion/Promote" in run.err and VIEWER_TOKEN not in run.err


def test_promotions_of_a_pipeline_say_use_the_carrier(cli, jenkins_env, jd):
    run = cli("jenkins", "promotions", "team/app", "12")
    assert run.code == 4 and "Freestyle" in run.err


def test_unknown_job(cli, jenkins_env, jd):
    run = cli("jenkins", "promotions", "team/nope", "1", "--json")
    assert run.code == 4 and run.json["error"]["type"] == "NotFoundError"


def test_jenkins_commands_need_jenkins_url(cli, env):
    run = cli("jenkins", "promotions", CARRIER, "3")
    assert run.code == 2 and "JENKINS_URL" in run.err


def test_build_must_be_a_number(cli, jenkins_env):
    assert cli("jenkins", "promotions", CARRIER, "last").code == 2


# -- shipmark jenkins builds ----------------------------------------------------------------------

def test_builds_maps_builds_to_images(cli, images, jenkins_env, jd, tmp_path):
    (tmp_path / "shipmark.yaml").write_text("channels:\n  testing: {}\n")
    b11 = images.push("1.4.1-b11.20261121.4f1c2e9", build_url=build_url(jd, 11))
    b12 = images.push("1.4.2-b12.20261121.4f1c2e9", by=build_url(jd, 12))
    images.push("9.9.9-b3", build_url=jd.url + "job/other/3/")
    cli("mark", b11, "--suite", "unit", "--result", "passed", "--no-jenkins")
    cli("promote", b11, "--to", "testing", "--no-jenkins")
    cli("mark", b12, "--suite", "unit", "--result", "failed", "--no-jenkins")
    run = cli("jenkins", "builds", "team/app", "--image-repo", f"ocidir://{images.layout}", "--json")
    assert run.code == 0, run.err
    rows = {b["number"]: b for b in run.json["builds"]}
    assert list(rows) == [13, 12, 11, 10]
    assert rows[13]["building"] is True and rows[13]["result"] is None and rows[13]["images"] == []
    assert rows[12]["images"][0]["tag"] == "1.4.2-b12.20261121.4f1c2e9"
    assert rows[12]["images"][0]["suites"] == {"unit": "failed"}
    assert rows[11]["images"][0]["channels"] == ["testing"]
    text = cli("jenkins", "builds", "team/app", "--image-repo", f"ocidir://{images.layout}", "--limit", "3").out
    assert "#13     building  (no image in" in text
    assert "#11     SUCCESS   1.4.1-b11.20261121.4f1c2e9  passed: unit  [testing]" in text


def test_builds_of_an_unknown_job(cli, images, jenkins_env, jd):
    run = cli("jenkins", "builds", "team/nope", "--image-repo", f"ocidir://{images.layout}")
    assert run.code == 4
