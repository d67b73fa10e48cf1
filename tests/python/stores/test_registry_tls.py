"""Registry connections as Docker and Podman make them: the HTTPS-then-HTTP rule for loopback
and named-insecure registries (probed once), certs.d directories, TLS mismatches in one line,
and proxy variables for registry and token service alike. Real registries on 127.0.0.1."""

import subprocess
import threading
import uuid

import pytest
import urllib3

import servers
from forwardproxy import ForwardProxy
from shipmark.core.ref import parse
from shipmark.errors import InputError, RegistryError
from shipmark.settings import Settings
from shipmark.stores.base import Limits
from shipmark.stores.registry import RegistryStore
from shipmark.stores.registry.tls import certs_dir_for
from shipmark.stores.registry.transport import Answer, https_only_answer, read_body

CREDS = (servers.TEST_USER, servers.TEST_PASSWORD)


def _repo(server, host=None):
    return parse(f"{host or server.host}/shipmark-tls/{uuid.uuid4().hex[:12]}", default_tag=None)


# -- certs.d -----------------------------------------------------------------------------------

def test_certs_roots_follow_containers_certs_d_order():
    assert Settings(None, {"HOME": "/home/ci"}).certs_dir == (
        "/home/ci/.config/containers/certs.d", "/etc/containers/certs.d", "/etc/docker/certs.d")
    assert Settings(None, {"XDG_CONFIG_HOME": "/x"}).certs_dir[0] == "/x/containers/certs.d"
    assert Settings(None, {"SHIPMARK_CERTS_DIR": "/a:/b", "HOME": "/h"}).certs_dir == ("/a", "/b")
    assert Settings(None, {"SHIPMARK_CERTS_DIR": ""}).certs_dir == ()


def test_first_root_holding_the_registry_directory_is_the_one_read(tmp_path):
    for root in ("user", "containers", "docker"):
        (tmp_path / root).mkdir()
    (tmp_path / "containers" / "reg.example:5000").mkdir()
    (tmp_path / "docker" / "reg.example:5000").mkdir()
    roots = [str(tmp_path / r) for r in ("user", "containers", "docker")]
    assert certs_dir_for("reg.example:5000", roots) == tmp_path / "containers" / "reg.example:5000"
    assert certs_dir_for("reg.example", roots) is None      # the port is part of the name


def test_encrypted_client_key_is_refused_not_prompted_for(tls_files, tmp_path):
    root = tls_files.certs_d(tmp_path / "certs.d", "reg.example:5000")
    key = root / "reg.example:5000" / "client.key"
    subprocess.run(["openssl", "pkey", "-in", str(tls_files.client_key), "-out", str(key),
                    "-aes256", "-passout", "pass:secret"], check=True, capture_output=True)
    store = RegistryStore(certs_roots=[str(root)])
    with pytest.raises(InputError, match="client key .* is encrypted"):
        store._tls_for("reg.example:5000").ssl_context
    store.close()


# -- the HTTPS-then-HTTP rule ------------------------------------------------------------------

def test_plain_loopback_registry_is_probed_once_for_many_threads(registry2):
    store = RegistryStore()
    probes = []
    real_probe = store._probe_scheme
    store._probe_scheme = lambda host: probes.append(host) or real_probe(host)
    repo = _repo(registry2)
    servers.push_image(store, repo, "v1", seed="probe")
    fresh = RegistryStore()
    fresh._probe_scheme = lambda host: probes.append(host) or real_probe(host)
    barrier = threading.Barrier(16)

    def read():
        barrier.wait()
        return fresh.list_tags(repo)

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probes == [registry2.host, registry2.host]   # one per store, not one per thread
    assert fresh.scheme(registry2.host) == "http"
    store.close()
    fresh.close()


def test_threads_waiting_on_a_failed_probe_do_not_repeat_it():
    """A loopback port that accepts connections and never answers: one probe times out, and
    the threads that waited for it go on to their own (failing) requests in parallel."""
    import socket

    from shipmark.stores.registry.transport import make_retry

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        store = RegistryStore(limits=Limits(connect_timeout=1.0, read_timeout=0.3), retries=make_retry(total=0))
        probes, errors = [], []
        real_probe = store._probe_scheme
        store._probe_scheme = lambda h: probes.append(h) or real_probe(h)
        barrier = threading.Barrier(6)

        def read():
            barrier.wait()
            try:
                store.list_tags(parse(f"{host}/app", default_tag=None))
            except RegistryError as exc:
                errors.append(exc.message)

        threads = [threading.Thread(target=read) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        store.close()
    assert probes == [host]
    assert len(errors) == 6 and all("did not answer in time" in e for e in errors)


def test_loopback_tls_registry_keeps_verification(registry2_tls_basic, tls_files):
    repo = _repo(registry2_tls_basic)
    store = RegistryStore(creds_for=lambda host: CREDS)
    with pytest.raises(RegistryError, match="TLS verification failed") as err:
        store.list_tags(repo)
    assert "SHIPMARK_CA_FILE" in err.value.hint
    assert store.scheme(repo.registry) == "https"          # never HTTP for a TLS server
    store.close()
    trusting = RegistryStore(creds_for=lambda host: CREDS, ca_file=str(tls_files.ca))
    servers.push_image(trusting, repo, "v1", seed="verified")
    assert trusting.list_tags(repo) == ["v1"]
    trusting.close()


def test_named_insecure_tls_registry_is_used_unverified_as_docker_does(registry2_tls_basic):
    repo = _repo(registry2_tls_basic)
    store = RegistryStore(creds_for=lambda host: CREDS, insecure_registries=["127.0.0.1"])
    servers.push_image(store, repo, "v1", seed="insecure")
    assert store.list_tags(repo) == ["v1"] and store.scheme(repo.registry) == "https"
    store.close()


# -- plain HTTP to an HTTPS-only server --------------------------------------------------------

def _answer(method: str, url: str):
    """(the answer as the client sees it, what was read of its body)."""
    raw = urllib3.request(method, url, timeout=10, retries=False, preload_content=False)
    answer = Answer(raw, url, method)
    return answer, read_body(answer, 64 * 1024)


def test_https_only_answer_is_recognised_for_get_and_head(registry2_tls_basic, registry2):
    url = f"http://{registry2_tls_basic.host}/v2/"
    assert https_only_answer(*_answer("GET", url))
    assert https_only_answer(*_answer("HEAD", url))
    for method in ("GET", "HEAD"):   # an ordinary 400 of a plain registry is not one
        bad, body = _answer(method, f"{registry2.url}/v2/x/blobs/sha256:zz")
        assert bad.status_code == 400 and not https_only_answer(bad, body)


def test_plain_http_to_an_https_only_registry_says_so(registry2_tls_basic):
    """The registry switched to TLS after this store found plain HTTP there."""
    repo = _repo(registry2_tls_basic)
    store = RegistryStore(creds_for=lambda host: CREDS)
    store._schemes[repo.registry] = "http"
    for call in (lambda: store.head_manifest(repo.with_tag("v1")), lambda: store.list_tags(repo)):
        with pytest.raises(RegistryError, match="speaks only HTTPS but got a plain HTTP request"):
            call()
    store.close()


# -- proxies -----------------------------------------------------------------------------------

def test_proxy_variables_apply_to_registry_and_token_service(
        registry2_mtls_token, registry2, tls_files, tmp_path, no_proxy_env):
    host = f"localhost:{registry2_mtls_token.port}"
    roots = [str(tls_files.certs_d(tmp_path / "certs.d", host))]
    token_host = registry2_mtls_token.token_server.realm.split("/")[2]
    with ForwardProxy() as proxy:
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        store = RegistryStore(creds_for=lambda h: CREDS, certs_roots=roots)
        tls_repo = _repo(registry2_mtls_token, host)
        servers.push_image(store, tls_repo, "v1", seed="proxied")
        plain_repo = _repo(registry2)
        servers.push_image(store, plain_repo, "v1", seed="proxied")
        assert store.list_tags(tls_repo) == ["v1"] and store.list_tags(plain_repo) == ["v1"]
        store.close()
        # HTTPS through CONNECT tunnels: the registry, its token service, the probe of the
        # plain registry; plain HTTP as absolute-URI requests.
        assert {host, token_host, registry2.host} <= set(proxy.targets("CONNECT"))
        assert registry2.host in proxy.targets("GET") and registry2.host in proxy.targets("PUT")

        no_proxy_env.setenv("NO_PROXY", "localhost,127.0.0.1")
        before = len(proxy.seen)
        store = RegistryStore(creds_for=lambda h: CREDS, certs_roots=roots)
        assert store.list_tags(tls_repo) == ["v1"] and store.list_tags(plain_repo) == ["v1"]
        store.close()
        assert len(proxy.seen) == before


# -- the token service: TLS mismatches ---------------------------------------------------------

@pytest.mark.parametrize("mismatch", ["https realm, plain server", "http realm, HTTPS server"])
def test_token_service_tls_mismatch_is_one_clear_line(tmp_path, registry2_tls_basic, mismatch):
    token_server = servers.TokenServer(tmp_path / "token").start()
    auth = token_server.registry_auth()
    if mismatch == "https realm, plain server":
        auth["token"]["realm"] = token_server.realm.replace("http://", "https://")
        expected = "does not speak TLS"
    else:   # a Go HTTPS server (here a TLS registry) answers plain HTTP with its 400
        auth["token"]["realm"] = f"http://{registry2_tls_basic.host}/token"
        expected = "speaks only HTTPS, but the registry names an http:// realm"
    server = servers.start_registry2(tmp_path / "registry", auth=auth)
    store = RegistryStore(creds_for=lambda host: CREDS)
    try:
        with pytest.raises(RegistryError, match=expected) as err:
            store.list_tags(_repo(server))
        assert "auth.token" in err.value.hint
    finally:
        store.close()
        server.stop()
        token_server.stop()
