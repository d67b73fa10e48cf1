"""Settings are declared once (python/shipmark/settings.py): flag, then variable, then default;
a bad value is exit 2 naming where it came from; no other module reads the environment."""

import argparse
import re
from pathlib import Path

import pytest

from shipmark.errors import AuthError, InputError
from shipmark.settings import OPTIONS, Settings, add_flag
from shipmark.stores.base import Limits

PACKAGE = Path(__file__).resolve().parents[3] / "python" / "shipmark"


def _args(**given):
    return argparse.Namespace(**given)


def test_a_flag_wins_over_its_variable_which_wins_over_the_default():
    env = {"SHIPMARK_TIMEOUT": "60", "SHIPMARK_MAX_TAGS": "500"}
    assert Settings(_args(timeout="30", max_tags=None), env).timeout == 30.0
    assert Settings(_args(timeout=None), env).timeout == 60.0
    assert Settings(_args(), {}).timeout == 120.0
    assert Settings(_args(max_tags="7"), env).max_tags == 7
    assert Settings(None, env).max_tags == 500


def test_a_store_opened_late_gets_what_is_left_of_the_commands_deadline(monkeypatch):
    import shipmark.settings as settings_module

    settings = Settings(environ={"SHIPMARK_TIMEOUT": "10"})
    started = settings_module.time.monotonic()
    monkeypatch.setattr(settings_module.time, "monotonic", lambda: started + 7)
    assert 2.9 < settings.limits.deadline <= 3.0
    monkeypatch.setattr(settings_module.time, "monotonic", lambda: started + 70)
    assert settings.limits.deadline == 0.0


def test_an_empty_variable_counts_as_unset():
    assert Settings(None, {"SHIPMARK_TIMEOUT": ""}).timeout == 120.0
    assert Settings(None, {"SHIPMARK_POLICY": ""}).policy is None


def test_the_limit_defaults_are_the_stores_own():
    import dataclasses

    limits = Settings(None, {}).limits
    assert limits == dataclasses.replace(Limits(), deadline=limits.deadline, timeout=Limits().deadline)
    assert Limits().deadline - 1 < limits.deadline <= Limits().deadline   # what is left of it
    raised = Settings(_args(timeout="5", max_tags="10"), {"SHIPMARK_MAX_TAG_PAGES": "3"}).limits
    assert (round(raised.deadline), raised.tags, raised.tag_pages) == (5, 10, 3)


@pytest.mark.parametrize("env, message", [
    ({"SHIPMARK_TIMEOUT": "abc"}, "SHIPMARK_TIMEOUT: expected a number of seconds, got 'abc'"),
    ({"SHIPMARK_TIMEOUT": "0"}, "SHIPMARK_TIMEOUT: expected a number of seconds, got '0'"),
    ({"SHIPMARK_TIMEOUT": "nan"}, "SHIPMARK_TIMEOUT: expected a number of seconds, got 'nan'"),
    ({"SHIPMARK_MAX_TAGS": "-1"}, "SHIPMARK_MAX_TAGS: expected a whole number above 0, got '-1'"),
    ({"SHIPMARK_MAX_TAG_PAGES": "1.5"}, "SHIPMARK_MAX_TAG_PAGES: expected a whole number above 0, got '1.5'"),
    ({"SHIPMARK_STRICT_JENKINS": "maybe"}, "SHIPMARK_STRICT_JENKINS: expected 1, true, yes, on or 0, false, no, off"),
    ({"SHIPMARK_DESCRIPTION_FORMAT": "xml"}, "SHIPMARK_DESCRIPTION_FORMAT: expected text or html, got 'xml'"),
])
def test_a_bad_variable_is_bad_input_naming_it(env, message):
    with pytest.raises(InputError) as err:
        Settings(None, env).check()
    assert err.value.message.startswith(message)
    assert err.value.hint


def test_a_bad_flag_is_named_as_the_flag():
    with pytest.raises(InputError) as err:
        Settings(_args(timeout="soon"), {"SHIPMARK_TIMEOUT": "60"}).check()
    assert err.value.message == "--timeout: expected a number of seconds, got 'soon'"
    assert "--timeout 300" in err.value.hint


def test_lists_and_booleans():
    s = Settings(_args(strict_jenkins=False), {
        "SHIPMARK_INSECURE_REGISTRIES": " a:5000, ,b ",
        "SHIPMARK_STRICT_JENKINS": "yes", "SHIPMARK_KEEP_BUILD_FOR": ""})
    assert s.insecure_registries == ("a:5000", "b")
    assert s.strict_jenkins is True
    assert s.keep_build_for == frozenset()            # set but empty: no channel keeps builds
    assert Settings(_args(strict_jenkins=True), {}).strict_jenkins is True
    assert Settings(None, {}).keep_build_for == frozenset({"stable"})


def test_paths_default_under_home_and_xdg():
    home = Settings(None, {"HOME": "/home/ci"})
    assert (home.cache_dir, home.docker_config) == ("/home/ci/.cache/shipmark", "/home/ci/.docker")
    xdg = Settings(None, {"XDG_CACHE_HOME": "/c", "DOCKER_CONFIG": "/d"})
    assert (xdg.cache_dir, xdg.docker_config) == ("/c/shipmark", "/d")
    assert Settings(None, {"SHIPMARK_CACHE_DIR": "/mine"}).cache_dir == "/mine"


def test_the_ca_bundle_requests_would_use():
    assert Settings(None, {"CURL_CA_BUNDLE": "/c.pem"}).ca_bundle == "/c.pem"
    assert Settings(None, {"REQUESTS_CA_BUNDLE": "/r.pem", "CURL_CA_BUNDLE": "/c.pem"}).ca_bundle == "/r.pem"
    assert Settings(None, {}).ca_bundle is None


def test_registry_credentials_come_from_the_settings(tmp_path):
    s = Settings(None, {"SHIPMARK_REGISTRY_USERNAME": "ci", "SHIPMARK_REGISTRY_PASSWORD": "pw",
                        "DOCKER_CONFIG": str(tmp_path)})
    assert s.creds_for("reg.example") == ("ci", "pw")
    with pytest.raises(AuthError) as err:
        Settings(None, {"SHIPMARK_REGISTRY_USERNAME": "ci", "DOCKER_CONFIG": str(tmp_path)}).creds_for("h")
    assert "SHIPMARK_REGISTRY_PASSWORD" in err.value.message
    assert Settings(None, {"DOCKER_CONFIG": str(tmp_path)}).creds_for("h") is None


def test_jenkins_client_only_where_jenkins_url_is_set():
    from shipmark.jenkins import Client
    assert Client.from_settings(Settings(None, {})) is None
    client = Client.from_settings(Settings(None, {"JENKINS_URL": "https://ci.example.com/", "JENKINS_USER": "u",
                                                  "JENKINS_API_TOKEN": "t", "SHIPMARK_JENKINS_TIMEOUT": "3"}))
    assert (client.root, client.who, client.timeout) == ("https://ci.example.com/", "u", 3.0)


def test_a_flag_help_names_its_variable_and_default():
    parser = argparse.ArgumentParser()
    add_flag(parser, "timeout")
    add_flag(parser, "by", help="who marks")
    text = parser.format_help()
    assert "SHIPMARK_TIMEOUT" in text and "default 120" in text
    assert "who marks (env SHIPMARK_BY" in text


def test_every_option_has_help_and_a_variable():
    for name, option in OPTIONS.items():
        assert option.help and option.env, name


def test_no_module_but_settings_reads_the_environment():
    pattern = re.compile(r"\bos\.environ\b|\bgetenv\b|from\s+os\s+import[^\n]*\benviron\b")
    found = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.name != "settings.py" or path.parent != PACKAGE
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == [], "read the environment only in settings.py:\n" + "\n".join(found)
