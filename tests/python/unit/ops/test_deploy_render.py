"""Deploy templates: packaged ones, a user's own, and errors that name the template line."""

import os
from pathlib import Path

import pytest

from shipmark import render, servicesfile
from shipmark.core.ref import parse_repo
from shipmark.errors import InputError, RemoteError
from shipmark.ops import deploy

DIGEST = "sha256:" + "ab" * 32
SERVICES = servicesfile.parse("""\
target: prod
vars: {resources: [base/]}
services:
  - name: web-front
    repo: registry.example.com/team/web
    vars: {ports: ["80:8080"], environment: {MODE: "a: b # not a comment"}, k8s_image: web}
  - name: api
    repo: registry.example.com/team/api
""")


def chosen():
    return [deploy.Chosen(s, "stable", s.repo, DIGEST, f"1.0.{i}-b{i}.20261128.abc1234")
            for i, s in enumerate(SERVICES.services)]


def render_to(tmp_path, *templates):
    return deploy.render(chosen=chosen(), services=SERVICES, templates=list(templates), out=str(tmp_path / "out"),
                         target="prod")


def test_packaged_templates_are_listed():
    assert render.packaged_deploy_templates() == ["docker-compose.yml.j2", "images.env.j2", "kustomization.yaml.j2"]


def test_services_are_sorted_and_values_quoted(tmp_path):
    import yaml

    render_to(tmp_path, "docker-compose.yml", "kustomization.yaml.j2", "images.env.j2")
    compose = yaml.safe_load((tmp_path / "out" / "docker-compose.yml").read_text())
    assert list(compose["services"]) == ["api", "web-front"]
    web = compose["services"]["web-front"]
    assert web["image"] == f"registry.example.com/team/web@{DIGEST}"
    assert web["environment"] == {"MODE": "a: b # not a comment"} and web["ports"] == ["80:8080"]
    kustomization = yaml.safe_load((tmp_path / "out" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["base/"]
    assert kustomization["images"][1] == {"name": "web", "newName": "registry.example.com/team/web", "digest": DIGEST}
    env = (tmp_path / "out" / "images.env").read_text().splitlines()
    assert env[1:] == [f"API_IMAGE=registry.example.com/team/api@{DIGEST}",
                       f"WEB_FRONT_IMAGE=registry.example.com/team/web@{DIGEST}"]


def test_a_users_template_may_include_a_neighbour(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "head.j2").write_text("# {{ target }}\n")
    (tmp_path / "t" / "list.txt.j2").write_text(
        "{% include 'head.j2' %}{% for s in services %}{{ s.name }} {{ s.image }} {{ s.vars.ports | default([]) | length }}\n{% endfor %}")
    result = render_to(tmp_path, str(tmp_path / "t" / "list.txt.j2"))
    assert [os.path.basename(f) for f in result.files] == ["list.txt"]
    assert (tmp_path / "out" / "list.txt").read_text() == (
        f"# prod\napi registry.example.com/team/api@{DIGEST} 0\nweb-front registry.example.com/team/web@{DIGEST} 1\n")


def test_a_syntax_error_names_the_template_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yml.j2").write_text("services:\n{% for s in services %}\n  {{ s.name }\n{% endfor %}\n")
    with pytest.raises(InputError) as err:
        render_to(tmp_path, "bad.yml.j2")
    assert err.value.message.startswith("template bad.yml.j2 line 3: ")
    assert not (tmp_path / "out").exists()


def test_an_undefined_variable_names_the_template_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.env.j2").write_text("# ok\n{% for s in services %}\n{{ s.name }}={{ s.vars.port }}\n{% endfor %}\n")
    with pytest.raises(InputError) as err:
        render_to(tmp_path, "bad.env.j2")
    assert err.value.message == "template bad.env.j2 line 3: 'dict object' has no attribute 'port'"
    assert "vars" in err.value.hint


def test_an_error_in_an_included_template_names_that_template(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "part.j2").write_text("\n\n{{ nothing_here }}\n")
    (tmp_path / "main.j2").write_text("{% include 'part.j2' %}\n")
    with pytest.raises(InputError) as err:
        render_to(tmp_path, "main.j2")
    assert err.value.message == "template part.j2 line 3: 'nothing_here' is undefined"


def test_a_missing_template_lists_the_packaged_ones(tmp_path):
    with pytest.raises(InputError) as err:
        render_to(tmp_path, "helm-values.yaml.j2")
    assert err.value.message == "template helm-values.yaml.j2 does not exist"
    assert "docker-compose.yml.j2" in err.value.hint


def test_two_templates_writing_one_file_are_refused(tmp_path):
    (tmp_path / "images.env.j2").write_text("x\n")
    with pytest.raises(InputError, match="both write images.env"):
        render_to(tmp_path, "images.env.j2", str(tmp_path / "images.env.j2"))


def test_unchanged_files_are_left_alone(tmp_path):
    first = render_to(tmp_path, "images.env.j2")
    mtime = os.stat(first.files[0]).st_mtime_ns
    second = render_to(tmp_path, "images.env.j2")
    assert second.changed == [] and os.stat(first.files[0]).st_mtime_ns == mtime


def test_an_unpinned_image_is_refused():
    # Plan files are checked where they are read; what reaches this check came from a registry.
    service = SERVICES.services[0]
    with pytest.raises(RemoteError):
        deploy.template_context([deploy.Chosen(service, "stable", parse_repo("reg.io/x"), "latest", "")],
                                SERVICES, "prod")


def test_html_templates_are_autoescaped_and_text_ones_are_not(tmp_path):
    (tmp_path / "p.html.j2").write_text("{{ services[0].vars.environment.MODE }}<{{ '<b>' }}>\n")
    (tmp_path / "p.txt.j2").write_text("{{ '<b>' }}\n")
    html = render.render_template(render.find_template(str(tmp_path / "p.html.j2")), {"services": [{"vars": {
        "environment": {"MODE": "&"}}}]})
    assert html == "&amp;<&lt;b&gt;>\n"
    assert render.render_template(render.find_template(str(tmp_path / "p.txt.j2")), {}) == "<b>\n"


def test_env_names():
    assert render.env_name("web-front.v2") == "WEB_FRONT_V2" and render.env_name("2fa") == "_2FA"


def test_the_examples_parse_and_render(tmp_path):
    import yaml

    root = Path(__file__).resolve().parents[4] / "examples"
    services = servicesfile.load(str(root / "services.yaml"))
    assert services.services[2].policy == str(root / "policies" / "reports.yaml")
    images = [deploy.Chosen(s, services.channel_for(s), s.repo, DIGEST, "1.0.0-b1.20261128.abc1234")
              for s in services.services]
    result = deploy.render(chosen=images, services=services, out=str(tmp_path),
                           templates=[str(root / "templates" / "helm-values.yaml.j2"), "docker-compose.yml.j2",
                                      "kustomization.yaml.j2", "images.env.j2"])
    for path in result.files:
        if path.endswith((".yaml", ".yml")):
            assert yaml.safe_load(Path(path).read_text())
    kustomization = yaml.safe_load((tmp_path / "kustomization.yaml").read_text())
    assert len(kustomization["images"]) == 3   # api and api-jobs share one repository
    for name in ("nightly/deploy/services.yaml",):
        if (root / name).exists():   # the nightly example's own services file
            assert servicesfile.load(str(root / name)).services
