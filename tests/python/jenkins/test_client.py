"""The adapter and python-jenkins against the REST double: shapes, folders, auth, crumbs, errors."""

import json

import jenkins as python_jenkins
import pytest
import requests
from jenkins_support import PASSWORD, TOKEN, USER, VIEWER, VIEWER_TOKEN, build_url
from double import JenkinsDouble, apply_tree, fixture, parse_tree

from shipmark.errors import InputError, JenkinsError, NotFoundError
from shipmark.jenkins import BuildRef, Client, job_path, parse_build_url, parse_job, split_userinfo
from shipmark.settings import Settings

APP12 = BuildRef("team/app", 12)


# -- names and URLs ------------------------------------------------------------------------------

def test_job_path_nests_folders_and_quotes_names():
    assert job_path("team/app") == "job/team/job/app/"
    assert job_path("app/feature%2Fx") == "job/app/job/feature%252Fx/"
    with pytest.raises(InputError):
        job_path("team//app")


def test_parse_build_url_reads_folders_views_and_multibranch_names():
    assert parse_build_url("https://ci.example.com/job/team/job/app/12/") == APP12
    assert parse_build_url("https://ci.example.com/jenkins/view/all/job/app/job/feature%252Fx/3/") == \
        BuildRef("app/feature%2Fx", 3)
    assert parse_build_url("https://ci.example.com/job/team/job/app/") is None
    assert parse_build_url("alice@example.com") is None
    assert parse_build_url(None) is None


def test_parse_job_accepts_names_paths_and_urls():
    assert parse_job("team/app") == "team/app"
    assert parse_job("/job/team/job/app/") == "team/app"
    assert parse_job("https://ci.example.com/job/team/job/app/") == "team/app"


def test_jenkins_url_userinfo_is_split_off_and_never_kept_in_the_url():
    assert split_userinfo("https://ci:s3cret@ci.example.com/jenkins") == ("https://ci.example.com/jenkins/", "ci", "s3cret")
    client = Client("https://ci:s3cret@ci.example.com/")
    assert "s3cret" not in repr(client) and client.root == "https://ci.example.com/"


def test_a_user_without_a_token_is_an_input_error():
    with pytest.raises(InputError, match="JENKINS_API_TOKEN"):
        Client.from_settings(Settings(None, {"JENKINS_URL": "https://ci.example.com/", "JENKINS_USER": "ci"}))
    assert Client.from_settings(Settings(None, {})) is None


# -- shapes ---------------------------------------------------------------------------------------

def test_build_json_has_real_shapes(jd):
    server = python_jenkins.Jenkins(jd.url, USER, TOKEN)
    done = server.get_build_info("team/app", 12)
    running = server.get_build_info("team/app", 13)
    assert done["_class"] == "org.jenkinsci.plugins.workflow.job.WorkflowRun"
    assert done["result"] == "SUCCESS" and running["result"] is None and running["building"] is True
    git = [a for a in done["actions"] if a.get("_class") == "hudson.plugins.git.util.BuildData"]
    assert len(git) == 2 and {a["remoteUrls"][0] for a in git} == {
        "https://git.example.com/team/app.git", "https://git.example.com/ci/shipmark.git"}
    assert {} in done["actions"]
    assert done["url"] == build_url(jd, 12)


def test_tree_output_matches_the_captured_shapes(jd):
    jd.add_build("team/app-promotion", 3, parameters={"IMAGE": "x"})
    jd.items["team/app-promotion"].promotion_numbers["testing"] = 6
    jd.promote(jd.items["team/app-promotion"], 3, "testing", USER)
    client = Client(jd.url, USER, TOKEN)
    got = client.build(BuildRef("team/app-promotion", 3),
                       tree="actions[promotions[name,promotionBuilds[number,result]]]")
    assert got == fixture("promotions-tree.json")
    got = client.job("team/app", tree="allBuilds[number,result]{0,2}")
    assert got == fixture("allbuilds-range-tree.json")


@pytest.mark.parametrize("spec,expected", [
    ("{0,2}", [3, 2]), ("{1,}", [2, 1]), ("{,1}", [3]), ("{2}", [1]),
])
def test_tree_ranges(spec, expected):
    data = {"_class": "J", "allBuilds": [{"_class": "R", "number": n} for n in (3, 2, 1)]}
    out = apply_tree(data, parse_tree(f"allBuilds[number]{spec}"))
    assert [b["number"] for b in out["allBuilds"]] == expected


def test_builds_beyond_100_come_from_allBuilds(jd):
    jd.add_job("team/big")
    jd.add_builds("team/big", range(1, 151))
    server = python_jenkins.Jenkins(jd.url, USER, TOKEN)
    assert len(server.get_job_info("team/big")["builds"]) == 100
    assert len(server.get_job_info("team/big", fetch_all_builds=True)["builds"]) == 150
    client = Client(jd.url, USER, TOKEN)
    assert [b["number"] for b in client.builds("team/big", limit=3)] == [150, 149, 148]
    assert len(client.builds("team/big", limit=500)) == 150


def test_builds_of_a_folder_is_an_input_error(jd):
    with pytest.raises(InputError, match="folder"):
        Client(jd.url, USER, TOKEN).builds("team")


def test_artifact_and_parameters(jd):
    jd.add_build("team/app", 14, artifacts={"shipmark/provenance.json": b'{"image": "x"}'})
    jd.add_build("team/app-promotion", 3, parameters={"IMAGE": "reg/app@sha256:" + "a" * 64})
    client = Client(jd.url, USER, TOKEN)
    assert json.loads(client.artifact(BuildRef("team/app", 14), "shipmark/provenance.json")) == {"image": "x"}
    assert client.parameters(BuildRef("team/app-promotion", 3))["IMAGE"].startswith("reg/app@")
    with pytest.raises(NotFoundError, match="artifact shipmark/provenance.json"):
        client.artifact(APP12, "shipmark/provenance.json")


def test_context_path(jd):
    other = JenkinsDouble(prefix="/jenkins/").start()
    try:
        other.add_user(USER, token=TOKEN)
        other.add_job("team/app")
        other.add_build("team/app", 5)
        client = Client(other.url, USER, TOKEN)
        assert client.build(BuildRef("team/app", 5))["number"] == 5
        client.set_description(BuildRef("team/app", 5), "hi")
        assert other.build("team/app", 5)["description"] == "hi"
    finally:
        other.stop()


# -- descriptions and keep -------------------------------------------------------------------------

def test_submit_description_and_keep_read_first(jd):
    client = Client(jd.url, USER, TOKEN)
    client.set_description(APP12, "a <b>plain</b> text")
    assert jd.build("team/app", 12)["description"] == "a <b>plain</b> text"
    assert client.keep(APP12) is True
    assert client.keep(APP12) is False                    # already kept: read, no second toggle
    assert jd.build("team/app", 12)["keepLog"] is True
    assert len(jd.requests_to("/12/toggleLogKeep", "POST")) == 1


def test_keep_toggles_again_when_a_concurrent_toggle_undid_it(jd, monkeypatch):
    client = Client(jd.url, USER, TOKEN)
    real = client._request
    undone = []

    def racing(method, path, **kw):
        response = real(method, path, **kw)
        if path.endswith("toggleLogKeep") and not undone:   # another caller toggles right after us
            undone.append(True)
            jd.build("team/app", 12)["keepLog"] = False
        return response
    monkeypatch.setattr(client, "_request", racing)
    assert client.keep(APP12) is True
    assert jd.build("team/app", 12)["keepLog"] is True


def test_user_without_update_permission_gets_403_with_the_permission_named(jd):
    with pytest.raises(JenkinsError) as err:
        Client(jd.url, VIEWER, VIEWER_TOKEN).set_description(APP12, "x")
    assert "403" in err.value.message and "Run/Update" in err.value.hint


# -- auth and crumbs --------------------------------------------------------------------------------

def test_password_login_needs_the_crumb_and_its_session_cookie(jd):
    url = build_url(jd, 12) + "submitDescription"
    auth = (USER, PASSWORD)
    assert requests.post(url, auth=auth, data={"description": "x"}).status_code == 403
    crumb = requests.get(jd.url + "crumbIssuer/api/json", auth=auth).json()   # its cookie is dropped
    no_cookie = requests.post(url, auth=auth, data={"description": "x"},
                              headers={crumb["crumbRequestField"]: crumb["crumb"]})
    assert no_cookie.status_code == 403
    with requests.Session() as session:
        crumb = session.get(jd.url + "crumbIssuer/api/json", auth=auth).json()
        ok = session.post(url, auth=auth, data={"description": "x"},
                          headers={crumb["crumbRequestField"]: crumb["crumb"]}, allow_redirects=False)
    assert ok.status_code == 302 and jd.build("team/app", 12)["description"] == "x"


def test_api_token_skips_the_crumb(jd):
    response = requests.post(build_url(jd, 12) + "submitDescription", auth=(USER, TOKEN),
                             data={"description": "t"}, allow_redirects=False)
    assert response.status_code == 302 and jd.build("team/app", 12)["description"] == "t"


def test_python_jenkins_with_a_password_sends_crumb_and_cookie(jd):
    Client(jd.url, USER, PASSWORD).set_description(APP12, "via password")
    post = jd.requests_to("/12/submitDescription", "POST")[-1]
    assert post.auth == "password" and post.crumb is True
    assert jd.build("team/app", 12)["description"] == "via password"


def test_csrf_off_means_no_crumb(jd):
    plain = JenkinsDouble(csrf=False).start()
    try:
        plain.add_user(USER, password=PASSWORD)
        plain.add_job("app")
        plain.add_build("app", 1)
        Client(plain.url, USER, PASSWORD).set_description(BuildRef("app", 1), "no crumb")
        assert plain.build("app", 1)["description"] == "no crumb"
    finally:
        plain.stop()


def test_wrong_token_is_a_401_without_the_token_in_the_message(jd):
    wrong = "0" * 34
    with pytest.raises(JenkinsError) as err:
        Client(jd.url, USER, wrong).build(APP12)
    text = err.value.message + (err.value.hint or "")
    assert "401" in text and wrong not in text and f"{jd.url}user/ci/configure" in text


def test_anonymous_gets_403_and_a_hint_to_log_in(jd):
    with pytest.raises(JenkinsError) as err:
        Client(jd.url).build(APP12)
    assert "403" in err.value.message and "JENKINS_API_TOKEN" in err.value.hint


# -- not found, unreachable -------------------------------------------------------------------------

def test_unknown_job_and_deleted_build_are_not_found(jd):
    client = Client(jd.url, USER, TOKEN)
    with pytest.raises(NotFoundError, match="job team/nope"):
        client.job("team/nope")
    with pytest.raises(NotFoundError, match="build team/app #99") as err:
        client.build(BuildRef("team/app", 99))
    assert "log rotation" in err.value.hint


def test_jenkins_down_is_a_jenkins_error(jd):
    client = Client(jd.url, USER, TOKEN)
    client.build(APP12)
    jd.stop()
    with pytest.raises(JenkinsError, match="cannot reach Jenkins"):
        client.build(APP12)
    with pytest.raises(JenkinsError, match="connection refused"):
        Client(jd.url, USER, TOKEN).build(APP12)


def test_a_login_page_instead_of_json_is_explained(jd, monkeypatch):
    """A reverse proxy's login page answers 200 with HTML: say so, instead of a JSON traceback."""
    client = Client(jd.url, USER, TOKEN)
    page = client._request("GET", "job/team/job/app/12/", what="the build page")
    assert page.headers["Content-Type"].startswith("text/html")
    monkeypatch.setattr(client, "_request", lambda *a, **kw: page)
    with pytest.raises(JenkinsError, match="not JSON") as err:
        client.build(APP12)
    assert "JENKINS_URL" in err.value.hint


def test_owns_compares_scheme_host_port_and_root_path():
    client = Client("https://ci.example.com/jenkins/")
    assert client.owns("https://CI.example.com:443/jenkins/job/app/1/")
    assert not client.owns("https://ci.example.com/job/app/1/")
    assert not client.owns("http://ci.example.com/jenkins/job/app/1/")
    assert not client.owns("https://other.example.com/jenkins/job/app/1/")
    assert not client.owns(None)
