"""Auth against Docker Registry 2.8: htpasswd (Basic) and token (Bearer) configurations."""

import json
import uuid

import pytest

from shipmark.core.ref import parse
from shipmark.errors import AuthError
from shipmark.stores import open_store
from shipmark.stores.discovery import Discovery

from faultproxy import FaultProxy
from servers import TEST_PASSWORD, TEST_USER, build_record, push_image

WRONG = "not-the-password-Zq81"


def _repo(server):
    return parse(f"{server.host}/auth/{uuid.uuid4().hex[:8]}", default_tag=None)


def _creds(user, password):
    return {"creds_for": lambda host: (user, password)}


@pytest.fixture(params=["basic", "token"])
def secured(request):
    return request.getfixturevalue("registry2_basic" if request.param == "basic"
                                   else "registry2_token")


def test_right_credentials_work(secured):
    repo = _repo(secured)
    store = open_store(repo, _creds(TEST_USER, TEST_PASSWORD))
    image = push_image(store, repo, "v1", seed="auth-ok")
    record, blobs = build_record(image.descriptor, 1)
    Discovery(store, repo).attach(image.descriptor, record, blobs)
    assert store.get_manifest(repo.with_tag("v1")).raw == image.manifest.raw
    assert [d.digest for d in Discovery(store, repo).records(image.digest)] == [record.digest]
    store.close()


def test_wrong_password_is_an_auth_error_without_the_password(secured):
    repo = _repo(secured)
    store = open_store(repo, _creds(TEST_USER, WRONG))
    with pytest.raises(AuthError) as err:
        store.get_manifest(repo.with_tag("v1"))
    exc = err.value
    assert exc.exit_code == 5
    assert secured.host in exc.message and "refused the credentials" in exc.message
    assert "SHIPMARK_REGISTRY_USERNAME" in exc.hint and "docker login" in exc.hint
    text = json.dumps(exc.to_json()) + str(exc)
    assert WRONG not in text and "Authorization" not in text and "Basic " not in text
    store.close()


def test_no_credentials_says_which_to_set(secured):
    repo = _repo(secured)
    store = open_store(repo, {"creds_for": lambda host: None})
    with pytest.raises(AuthError) as err:
        store.list_tags(repo)
    assert "requires credentials" in err.value.message
    assert "SHIPMARK_REGISTRY_PASSWORD" in err.value.hint
    store.close()


def test_environment_credentials_are_used(secured, monkeypatch):
    monkeypatch.setenv("SHIPMARK_REGISTRY_USERNAME", TEST_USER)
    monkeypatch.setenv("SHIPMARK_REGISTRY_PASSWORD", TEST_PASSWORD)
    repo = _repo(secured)
    store = open_store(repo)
    push_image(store, repo, "v1", seed="auth-env")
    assert store.list_tags(repo) == ["v1"]
    store.close()


def test_docker_config_credentials_are_used(secured, monkeypatch, tmp_path):
    import base64
    config = {"auths": {secured.host: {"auth": base64.b64encode(
        f"{TEST_USER}:{TEST_PASSWORD}".encode()).decode()}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    repo = _repo(secured)
    store = open_store(repo)
    push_image(store, repo, "v1", seed="auth-docker")
    assert store.list_tags(repo) == ["v1"]
    store.close()


def test_auth_is_negotiated_once_then_sent_up_front(secured):
    """One 401 per scope, then the header (Basic, or the cached token) goes with every
    request; the token service is asked once per scope."""
    repo = _repo(secured)
    with FaultProxy(secured.host) as proxy:
        store = open_store(repo, _creds(TEST_USER, TEST_PASSWORD))
        repo_p = repo.__class__(repo.scheme, proxy.host, repo.repository)
        push_image(store, repo_p, "v1", seed="auth-once")
        for _ in range(5):
            store.get_manifest(repo_p.with_tag("v1"))
            store.head_manifest(repo_p.with_tag("v1"))
        unauthorized = [e for e in proxy.log if e.status == 401]
        store.close()
    # Basic: one challenge for the host. Token: one per scope (push for uploads, pull for reads).
    assert len(unauthorized) == (2 if hasattr(secured, "token_server") else 1)
    if hasattr(secured, "token_server"):
        scopes = [tuple(sorted(a["actions"])) for c in secured.token_server.issued
                  for a in c["access"] if a["name"] == repo.repository]
        assert sorted(scopes) == [("pull",), ("pull", "push")]


def test_concurrent_requests_share_one_token_per_scope(registry2_token):
    """A scan's 16 worker threads hit the first 401 together: one token request per scope."""
    from concurrent.futures import ThreadPoolExecutor

    server = registry2_token
    repo = _repo(server)
    writer = open_store(repo, _creds(TEST_USER, TEST_PASSWORD))
    push_image(writer, repo, "v1", seed="auth-threads")
    writer.close()
    before = len(server.token_server.issued)
    reader = open_store(repo, _creds(TEST_USER, TEST_PASSWORD))
    with ThreadPoolExecutor(max_workers=16) as pool:
        digests = set(pool.map(lambda _: reader.head_manifest(repo.with_tag("v1")).digest,
                               range(64)))
    reader.close()
    assert len(digests) == 1
    assert len(server.token_server.issued) - before == 1
