"""The registry client's parts without a registry: credentials, cache, challenge parsing,
scheme selection, URL masking, and that nothing heavy is imported at start-up."""

import base64
import json
import logging
import os
import stat
import subprocess
import sys
import threading

import pytest

from shipmark.core.descriptor import sha256
from shipmark.core.ref import parse
from shipmark.errors import AuthError, InputError
from shipmark.settings import Settings
from shipmark.stores import open_store
from shipmark.stores.cache import ManifestCache
from shipmark.stores.registry.auth import merge_scopes, parse_challenge
from shipmark.stores.registry.client import RegistryStore
from shipmark.stores.registry.transport import is_loopback
from shipmark.stores.registry.transport import sanitize_url


# -- credentials -------------------------------------------------------------------------------

def test_environment_credentials_come_first(tmp_path, caplog):
    env = {"SHIPMARK_REGISTRY_USERNAME": "ci", "SHIPMARK_REGISTRY_PASSWORD": "s3cr3t-env",
           "DOCKER_CONFIG": str(tmp_path)}
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {"reg.example": {"auth": base64.b64encode(b"other:pw").decode()}}}))
    with caplog.at_level(logging.INFO, logger="shipmark.credentials"):
        assert Settings(None, env).creds_for("reg.example") == ("ci", "s3cr3t-env")
    assert "SHIPMARK_REGISTRY_USERNAME" in caplog.text and "s3cr3t-env" not in caplog.text


def test_half_set_environment_is_an_auth_error():
    with pytest.raises(AuthError) as err:
        Settings(None, {"SHIPMARK_REGISTRY_USERNAME": "ci"}).creds_for("reg.example")
    assert "SHIPMARK_REGISTRY_PASSWORD" in err.value.message


def test_docker_config_auths(tmp_path, caplog):
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "reg.example:5000": {"auth": base64.b64encode(b"alice:pw-from-config").decode()},
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:hubpw").decode()}}}))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    with caplog.at_level(logging.INFO, logger="shipmark.credentials"):
        assert Settings(None, env).creds_for("reg.example:5000") == ("alice", "pw-from-config")
    assert str(tmp_path) in caplog.text and "pw-from-config" not in caplog.text
    assert Settings(None, env).creds_for("registry-1.docker.io") == ("hub", "hubpw")
    assert Settings(None, env).creds_for("other.example") is None


def test_docker_credential_helper(tmp_path, monkeypatch, caplog):
    helper = tmp_path / "bin" / "docker-credential-shipmarktest"
    helper.parent.mkdir()
    helper.write_text("#!/bin/sh\nread host\n"
                      "echo '{\"ServerURL\":\"'$host'\",\"Username\":\"helper-user\","
                      "\"Secret\":\"helper-secret\"}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps(
        {"credHelpers": {"helped.example": "shipmarktest"}}))
    env = {"DOCKER_CONFIG": str(tmp_path), "PATH": os.environ["PATH"]}
    with caplog.at_level(logging.INFO, logger="shipmark.credentials"):
        assert Settings(None, env).creds_for("helped.example") == ("helper-user", "helper-secret")
    assert "docker-credential-shipmarktest" in caplog.text
    assert "helper-secret" not in caplog.text


def test_broken_credential_store_is_an_auth_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "does-not-exist"}))
    with pytest.raises(AuthError) as err:
        Settings(None, {"DOCKER_CONFIG": str(tmp_path)}).creds_for("reg.example")
    assert "credential helper" in err.value.message


def test_malformed_docker_config_does_not_echo_it(tmp_path):
    (tmp_path / "config.json").write_text('{"auths": {"reg.example": {"auth": "c2VjcmV0LXB3"')
    try:
        found = Settings(None, {"DOCKER_CONFIG": str(tmp_path)}).creds_for("reg.example")
    except AuthError as exc:
        assert "malformed" in exc.message and "c2VjcmV0LXB3" not in exc.message + exc.hint
    else:
        assert found is None  # the docker SDK ignores a config it cannot parse


def test_no_config_no_credentials(tmp_path):
    assert Settings(None, {"DOCKER_CONFIG": str(tmp_path)}).creds_for("reg.example") is None


# -- cache -------------------------------------------------------------------------------------

def test_cache_round_trip_and_damage(tmp_path):
    cache = ManifestCache(str(tmp_path))
    raw = b'{"schemaVersion": 2}'
    digest = sha256(raw)
    assert cache.get(digest) is None
    cache.put(digest, "application/vnd.oci.image.manifest.v1+json", raw)
    assert cache.get(digest) == ("application/vnd.oci.image.manifest.v1+json", raw)
    cache.put(sha256(b"other"), "x", raw)           # wrong digest: refused
    assert cache.get(sha256(b"other")) is None
    path = tmp_path / "manifests" / "sha256" / digest[7:]
    path.write_bytes(b"application/json\n{tampered}")
    assert cache.get(digest) is None and not path.exists()
    assert cache.get("sha256:../../etc/passwd") is None


def test_cache_concurrent_writers_leave_whole_entries(tmp_path):
    cache = ManifestCache(str(tmp_path))
    raws = [json.dumps({"n": i, "pad": "x" * 5000}).encode() for i in range(40)]

    def write():
        for raw in raws:
            cache.put(sha256(raw), "application/json", raw)
    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(cache.get(sha256(raw)) == ("application/json", raw) for raw in raws)
    leftovers = [p for p in (tmp_path / "manifests" / "sha256").iterdir()
                 if p.name.startswith(".tmp")]
    assert leftovers == []


def test_unwritable_cache_is_not_fatal(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ManifestCache(str(blocker))
    raw = b"{}"
    cache.put(sha256(raw), "application/json", raw)
    assert cache.get(sha256(raw)) is None


def test_get_by_digest_is_served_from_the_cache(tmp_path):
    raw = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    cache = ManifestCache(str(tmp_path))
    cache.put(sha256(raw), "application/vnd.oci.image.manifest.v1+json", raw)
    # Port 9 on loopback: nothing listens; any request would fail.
    store = RegistryStore(cache=cache)
    got = store.get_manifest(parse("127.0.0.1:9/app", None).with_digest(sha256(raw)))
    assert got.raw == raw and got.digest == sha256(raw)
    store.close()


# -- auth parsing ------------------------------------------------------------------------------

def test_parse_bearer_challenge():
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:team/app:pull,push",error="insufficient_scope"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "registry.example",
                      "scope": "repository:team/app:pull,push", "error": "insufficient_scope"}
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})


def test_merge_scopes():
    assert merge_scopes(["repository:a:pull", "repository:a:push,pull", "repository:b:pull",
                         ""]) == ["repository:a:pull,push", "repository:b:pull"]


# -- scheme, URLs, settings --------------------------------------------------------------------

@pytest.mark.parametrize("registry,loopback", [
    ("127.0.0.1:5000", True), ("127.1.2.3", True), ("localhost:5000", True), ("[::1]:5000", True),
    ("localhost", True), ("registry.example:5000", False), ("10.0.0.1:5000", False),
    ("docker.io", False), ("[2001:db8::1]:443", False)])
def test_loopback_detection(registry, loopback):
    assert is_loopback(registry) is loopback


def test_insecure_registries_may_use_plain_http_others_https(monkeypatch):
    monkeypatch.setenv("SHIPMARK_INSECURE_REGISTRIES", "build-cache:5000, legacy.example")
    store = open_store(parse("registry.example/app:1"))
    assert store.allows_plain_http("build-cache:5000") and store.allows_plain_http("legacy.example:443")
    assert store.allows_plain_http("localhost:5000") and not store.named_insecure("localhost:5000")
    assert not store.allows_plain_http("registry.example")
    assert not store.allows_plain_http("build-cache:6000")
    # No probe for registries that must speak HTTPS: nothing is sent here.
    assert store._base("docker.io") == "https://registry-1.docker.io"
    assert store.scheme("registry.example:5000") == "https"
    store.close()


def test_a_store_follows_the_settings_it_is_given(tmp_path):
    s = Settings(None, {"SHIPMARK_INSECURE_REGISTRIES": "build-cache:5000",
                        "SHIPMARK_CACHE_DIR": str(tmp_path / "cache")})
    store = open_store(parse("build-cache:5000/app:1"), s)
    assert store.allows_plain_http("build-cache:5000") and not store.allows_plain_http("other:5000")
    assert store.cache_root == str(tmp_path / "cache")
    store.close()


def test_ca_file_setting(tmp_path, monkeypatch, tls_files):
    monkeypatch.setenv("SHIPMARK_CA_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(InputError):
        open_store(parse("registry.example/app:1"))
    broken = tmp_path / "ca.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SHIPMARK_CA_FILE", str(broken))
    store = open_store(parse("registry.example/app:1"))
    with pytest.raises(InputError, match="cannot read CA file"):
        store._tls_for("registry.example").ssl_context   # built on the first HTTPS use
    store.close()
    monkeypatch.setenv("SHIPMARK_CA_FILE", str(tls_files.ca))
    store = open_store(parse("registry.example/app:1"))
    assert store._tls_for("registry.example").ca_files == (str(tls_files.ca),)
    store.close()


def test_sanitize_url_masks_userinfo_and_secrets():
    assert sanitize_url("https://user:pw@reg.example/v2/?_state=abc&digest=sha256:1") == \
        "https://***@reg.example/v2/?_state=***&digest=sha256:1"
    assert "pw" not in sanitize_url("http://u:pw@h/token?password=pw&scope=x")


def test_import_shipmark_stays_light():
    code = ("import sys, shipmark, shipmark.stores, shipmark.stores.base, "
            "shipmark.stores.discovery; "
            "print(sorted(m for m in ('requests','urllib3','docker') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- referrers probe against stub answers -------------------------------------------------------

def _stub(answers):
    """A loopback HTTP server answering GETs from a list of (status, content type, body)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.path)
            status, ctype, body = answers[min(len(seen), len(answers)) - 1]
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server, seen


INDEX = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
         b'"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",'
         b'"digest":"sha256:' + b"a" * 64 + b'","size":10,'
         b'"artifactType":"application/vnd.shipmark.record.v1+json"}]}')
NAME_UNKNOWN = b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}'


@pytest.mark.parametrize("answers,listed,supported", [
    ([(200, "text/html", b"<html>registry UI</html>")], [], False),
    ([(200, "application/json", b'{"repositories": []}')], [], False),
    ([(404, "text/plain", b"404 page not found")], [], False),         # Registry 2.8
    ([(405, "application/json", b"{}")], [], False),
    ([(404, "application/json", NAME_UNKNOWN)], [], True),             # the route exists
    ([(200, "application/vnd.oci.image.index.v1+json", INDEX)], ["sha256:" + "a" * 64], True),
    ([(200, "application/vnd.oci.image.index.v1+json; charset=utf-8", INDEX)],
     ["sha256:" + "a" * 64], True),
])
def test_referrers_answer_accepts_only_an_oci_index(answers, listed, supported):
    server, seen = _stub(answers)
    try:
        repo = parse(f"127.0.0.1:{server.server_address[1]}/app", default_tag=None)
        store = RegistryStore()
        got = store.referrers(repo, "sha256:" + "b" * 64)
        assert [d.digest for d in got.descriptors] == listed
        assert got.supported is supported
        store.close()
    finally:
        server.shutdown()
        server.server_close()


def test_the_probe_is_asked_once_per_repository_and_remembered_across_runs(tmp_path):
    from shipmark.stores.cache import ManifestCache
    from shipmark.stores.discovery import Discovery

    server, seen = _stub([(404, "text/plain", b"404 page not found")])
    try:
        repo = parse(f"127.0.0.1:{server.server_address[1]}/app", default_tag=None)
        subject = "sha256:" + "b" * 64
        store = RegistryStore(cache=ManifestCache(str(tmp_path)))
        assert Discovery(store, repo).lists_referrers_itself(subject) is False
        assert Discovery(store, repo).lists_referrers_itself(subject) is False
        assert len(seen) == 1
        first = Discovery(store, repo)
        first.lists_referrers_itself(subject)
        first.save()
        store.close()
        later = RegistryStore(cache=ManifestCache(str(tmp_path)))   # another process, same cache
        assert Discovery(later, repo).lists_referrers_itself(subject) is False
        assert len(seen) == 1
        later.close()
    finally:
        server.shutdown()
        server.server_close()


def test_referrers_probe_refused_credentials_is_an_auth_error_not_a_no():
    server, seen = _stub([(403, "application/json", b'{"errors":[{"code":"DENIED"}]}')])
    try:
        repo = parse(f"127.0.0.1:{server.server_address[1]}/app", default_tag=None)
        store = RegistryStore()
        with pytest.raises(AuthError):
            store.referrers(repo, "sha256:" + "b" * 64)
        store.close()
    finally:
        server.shutdown()
        server.server_close()


def test_missing_binary_fails_naming_its_install(monkeypatch):
    import servers

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("GOPATH", "/nonexistent")
    monkeypatch.delenv("GOBIN", raising=False)
    with pytest.raises(pytest.fail.Exception) as err:
        servers.find_tool("oras")
    assert "go install oras.land/oras/cmd/oras@v1.3.6" in str(err.value)
