"""services.yaml: the schema, its defaults, and messages that name the bad value's path."""

import pytest

from shipmark import servicesfile
from shipmark.core.services import ServicesFile, deployed_tag, is_deployed_tag
from shipmark.errors import InputError

GOOD = """\
target: prod
channel: stable
policy: policies/default.yaml
vars: {network: backend, replicas: 1}
services:
  - name: api
    repo: registry.example.com:5000/team/api
    vars: {port: 8080, replicas: 3}
  - name: worker
    repo: registry.example.com:5000/team/worker
    channel: testing
    policy: policies/worker.yaml
"""


def parse(text):
    return servicesfile.parse(text, source="services.yaml")


def error(text):
    with pytest.raises(InputError) as err:
        parse(text)
    return err.value.message


def test_a_good_file_with_defaults_and_overrides():
    f = parse(GOOD)
    assert f.target == "prod" and f.names() == ["api", "worker"]
    api, worker = f.services
    assert api.repo.name == "registry.example.com:5000/team/api"
    assert f.vars_for(api) == {"network": "backend", "replicas": 3, "port": 8080}
    assert f.channel_for(api) == "stable" and f.channel_for(worker) == "testing"
    # --channel replaces the file's default, not a service's own channel.
    assert f.channel_for(api, "canary") == "canary" and f.channel_for(worker, "canary") == "testing"


def test_the_channel_defaults_to_stable():
    f = parse("services:\n  - {name: a, repo: reg.io/a}\n")
    assert f.channel_for(f.services[0]) == "stable" and f.target is None


def test_policy_paths_are_relative_to_the_services_file(tmp_path):
    (tmp_path / "deploy").mkdir()
    path = tmp_path / "deploy" / "services.yaml"
    path.write_text(GOOD)
    f = servicesfile.load(str(path))
    assert f.policy == str(tmp_path / "deploy" / "policies" / "default.yaml")
    assert f.services[1].policy == str(tmp_path / "deploy" / "policies" / "worker.yaml")
    assert f.services[0].policy is None


def test_duplicate_service_names_are_refused():
    text = "services:\n  - {name: api, repo: reg.io/a}\n  - {name: web, repo: reg.io/w}\n  - {name: api, repo: reg.io/b}\n"
    assert error(text) == "services.yaml: services[2] (api).name: duplicate service 'api', first defined at services[0]"


def test_duplicate_keys_are_refused_with_their_line():
    text = "services:\n  - name: api\n    repo: reg.io/a\n    repo: reg.io/b\n"
    assert error(text) == "services.yaml: line 4: duplicate key 'repo' (first at line 3)"
    assert error("target: a\ntarget: b\nservices: []\n").startswith("services.yaml: line 2: duplicate key 'target'")


def test_a_shared_repository_needs_the_same_channel():
    text = ("services:\n  - {name: api, repo: reg.io/app}\n  - {name: jobs, repo: reg.io/app}\n"
            "  - {name: canary, repo: reg.io/app, channel: testing}\n")
    assert "services[2] (canary).repo: repository reg.io/app is also used by services[0] (api)" in error(text)
    assert parse("services:\n  - {name: api, repo: reg.io/app}\n  - {name: jobs, repo: reg.io/app}\n")


@pytest.mark.parametrize("text, message", [
    ("- a\n", "services.yaml: (top): expected a mapping with 'services', got list"),
    ("service: []\n", "services.yaml: service: unknown key (expected one of: target, channel, policy, vars, services)"),
    ("services: []\n", "services.yaml: services: expected a list of services, each with name and repo"),
    ("services:\n  - {repo: reg.io/a}\n", "services.yaml: services[0]: missing 'name'"),
    ("services:\n  - {name: 'a b', repo: reg.io/a}\n", "services.yaml: services[0].name: invalid service name 'a b'"),
    ("services:\n  - {name: a}\n", "services.yaml: services[0] (a).repo: missing repository, e.g. repo: "
                                    "registry.example.com/team/api"),
    ("services:\n  - {name: a, repo: 'reg.io/a:1.0'}\n",
     "services.yaml: services[0] (a).repo: 'reg.io/a:1.0' names an image, but a repository is expected"),
    ("services:\n  - {name: a, repo: reg.io/a, image: x}\n",
     "services.yaml: services[0] (a).image: unknown key (expected one of: name, repo, channel, policy, vars)"),
    ("services:\n  - {name: a, repo: reg.io/a, vars: [1]}\n",
     "services.yaml: services[0] (a).vars: expected a mapping of variable names to values, got list"),
    ("target: prod/eu\nservices:\n  - {name: a, repo: reg.io/a}\n", "services.yaml: target: invalid target name 'prod/eu'"),
    ("channel: 'no way'\nservices:\n  - {name: a, repo: reg.io/a}\n", "services.yaml: channel: invalid channel 'no way'"),
    ("services: [\n", "services.yaml is not valid YAML at line 2"),
])
def test_bad_files_name_the_path(text, message):
    assert error(text) == message


def test_a_missing_file_says_which(tmp_path):
    with pytest.raises(InputError, match="services file .*nope.yaml does not exist"):
        servicesfile.load(str(tmp_path / "nope.yaml"))


def test_select_keeps_file_order_and_refuses_unknown_names():
    f = parse(GOOD)
    assert [s.name for s in f.select(["worker", "api"])] == ["api", "worker"]
    assert [s.name for s in f.select([])] == ["api", "worker"]
    with pytest.raises(InputError) as err:
        f.select(["apі"])   # a Cyrillic i
    assert err.value.hint == "use one of: api, worker"


def test_the_deployed_tag_is_a_valid_tag_outside_the_version_order():
    from shipmark.core import version
    from shipmark.core.ref import check_tag

    tag = deployed_tag("prod-eu.2")
    assert check_tag(tag) == "deployed.prod-eu.2" and is_deployed_tag(tag)
    assert version.parse_tag(tag) is None
    with pytest.raises(InputError):
        deployed_tag("x" * 64)


def test_from_dict_is_pure():
    f = ServicesFile.from_dict({"services": [{"name": "a", "repo": "ocidir:///tmp/a"}]}, source="inline")
    assert f.services[0].repo.scheme == "ocidir" and f.source == "inline"
