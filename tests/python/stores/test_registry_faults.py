"""Faults between the client and a registry: idempotent requests are retried on 5xx, 429 and
dropped connections; anything else ends in one clean RegistryError naming the host."""

import json
import socket
import uuid

import pytest

from shipmark.core.ref import parse
from shipmark.errors import RegistryError
from shipmark.stores import open_store
from shipmark.stores.base import Limits

from faultproxy import FaultProxy
from servers import free_port, push_image


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """The production retry policy with a millisecond backoff."""
    from shipmark.stores.registry import transport
    original = transport.make_retry
    monkeypatch.setattr(transport, "make_retry",
                        lambda total=4, backoff=0.25: original(total, 0.001))


@pytest.fixture
def proxied(registry_store):
    """(store, repo with a pushed image tagged v1, proxy) with everything going through it."""
    push_image(registry_store.store, registry_store.repo, "v1", seed="faults")
    with FaultProxy(registry_store.server.host) as proxy:
        store, repo = registry_store.through(proxy)
        yield store, repo, proxy


def _actions(proxy, method, path=None):
    return [e.action for e in proxy.requests(method=method, path=path)]


@pytest.mark.parametrize("action", ["fail", "drop"])
def test_get_manifest_is_retried(proxied, action):
    store, repo, proxy = proxied
    getattr(proxy, action)(method="GET", path=r"/manifests/v1$")
    assert store.get_manifest(repo.with_tag("v1")).media_type
    assert _actions(proxy, "GET", r"/manifests/") == [action, "forward"]


@pytest.mark.parametrize("action", ["fail", "drop"])
def test_head_and_tag_list_are_retried(proxied, action):
    store, repo, proxy = proxied
    getattr(proxy, action)(method="HEAD", path=r"/manifests/")
    getattr(proxy, action)(method="GET", path=r"/tags/list")
    assert store.head_manifest(repo.with_tag("v1")).digest
    assert store.list_tags(repo) == ["v1"]
    assert _actions(proxy, "HEAD") == [action, "forward"]
    assert _actions(proxy, "GET", r"/tags/list") == [action, "forward"]


@pytest.mark.parametrize("action", ["fail", "drop"])
def test_put_manifest_is_retried(proxied, action):
    store, repo, proxy = proxied
    manifest = store.get_manifest(repo.with_tag("v1"))
    getattr(proxy, action)(method="PUT", path=r"/manifests/stable$")
    store.put_manifest(repo.with_tag("stable"), manifest)
    assert store.head_manifest(repo.with_tag("stable")).digest == manifest.digest
    assert _actions(proxy, "PUT") == [action, "forward"]


def test_blob_upload_is_retried(proxied, registry_store):
    """The one-request upload (`POST ?digest=`, content-addressed) is retried like a PUT; where
    the registry answers it 202 (Docker Registry 2.x), the PUT that carries the bytes is too."""
    store, repo, proxy = proxied
    proxy.drop(method="POST", path=r"/blobs/uploads/\?digest=")
    proxy.drop(method="PUT", path=r"/blobs/uploads/")
    data = uuid.uuid4().bytes * 100
    digest = store.put_blob(repo, data)
    assert store.get_blob(repo, digest) == data
    assert _actions(proxy, "POST", r"\?digest=") == ["drop", "forward"]
    two_step = registry_store.kind == "registry2"
    assert _actions(proxy, "PUT", r"/blobs/uploads/") == (["drop", "forward"] if two_step else [])


def test_rate_limit_is_retried(proxied):
    store, repo, proxy = proxied
    proxy.fail(method="GET", path=r"/manifests/", status=429, times=2)
    assert store.get_manifest(repo.with_tag("v1"))
    assert _actions(proxy, "GET") == ["fail", "fail", "forward"]


def test_persistent_5xx_gives_up_with_a_registry_error(proxied):
    store, repo, proxy = proxied
    proxy.fail(method="GET", path=r"/manifests/", times=None, status=502)
    with pytest.raises(RegistryError) as err:
        store.get_manifest(repo.with_tag("v1"))
    assert err.value.exit_code == 5
    assert proxy.host in err.value.message and "502" in err.value.message
    assert "healthy" in err.value.hint
    assert len(proxy.requests(method="GET")) == 5      # the first try and 4 retries


@pytest.mark.parametrize("action", ["fail", "drop"])
def test_post_that_opens_a_session_is_not_retried(proxied, registry_store, action):
    """A POST that opens an upload session or mounts (here: a blob copied to another
    repository) is sent once; only the one-request upload, which names its digest, is retried."""
    if registry_store.kind != "registry2":
        pytest.skip("go-containerregistry shares blobs across repositories: a copy sends no POST")
    store, repo, proxy = proxied
    config = json.loads(store.get_manifest(repo.with_tag("v1")).raw)["config"]["digest"]
    getattr(proxy, action)(method="POST", path=r"/blobs/uploads/")
    with pytest.raises(RegistryError) as err:
        store.copy_blob(repo, parse(f"{repo.registry}/{repo.repository}-copy", default_tag=None), config)
    assert proxy.host in err.value.message
    assert len(proxy.requests(method="POST")) == 1
    assert "Traceback" not in str(err.value)


def test_connection_refused_names_the_host_and_what_to_check():
    port = free_port()  # nothing listens there
    repo = parse(f"127.0.0.1:{port}/app", default_tag=None)
    store = open_store(repo)
    with pytest.raises(RegistryError) as err:
        store.get_manifest(repo.with_tag("v1"))
    assert f"127.0.0.1:{port}" in err.value.message
    assert "refused the connection" in err.value.message
    assert "running and reachable" in err.value.hint
    store.close()


def test_silent_registry_times_out_cleanly():
    from shipmark.stores.registry import RegistryStore
    from shipmark.stores.registry.transport import make_retry

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)          # accepts connections (backlog) but never answers
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        store = RegistryStore(limits=Limits(connect_timeout=1.0, read_timeout=0.3),
                              retries=make_retry(total=1, backoff=0.001))
        with pytest.raises(RegistryError) as err:
            store.head_manifest(parse(f"{host}/app:v1"))
        store.close()
    assert "did not answer in time" in err.value.message and host in err.value.message


def test_tls_to_a_plain_http_server_says_what_to_set(registry2, monkeypatch):
    """A non-loopback name forces HTTPS; a plain-HTTP server there fails with a hint."""
    from shipmark.stores.registry import RegistryStore
    from shipmark.stores.registry.transport import make_retry

    store = RegistryStore(retries=make_retry(total=0))
    port = registry2.port
    # A name that is not loopback by its spelling gets HTTPS; here it resolves to loopback.
    ref = parse(f"shipmark-test.localtest:{port}/app:v1")
    assert not store.allows_plain_http(ref.registry)
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_getaddrinfo(socket.getaddrinfo))
    with pytest.raises(RegistryError) as err:
        store.get_manifest(ref)
    store.close()
    assert "does not speak TLS" in err.value.message
    assert "shipmark-test.localtest" in err.value.message
    assert "SHIPMARK_INSECURE_REGISTRIES" in err.value.hint


def _loopback_getaddrinfo(real):
    def fake(host, *args, **kwargs):
        if host == "shipmark-test.localtest":
            host = "127.0.0.1"
        return real(host, *args, **kwargs)
    return fake
