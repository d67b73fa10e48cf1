"""The command line against registries as companies run them: HTTPS with a private CA (given
by SHIPMARK_CA_FILE), HTTPS that requires client certificates for the registry and its token
service (given by a certs.d directory, as Docker and Podman read it), and a plain-HTTP
registry on loopback reached by Docker's HTTPS-then-HTTP rule. All on 127.0.0.1 / localhost."""

import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import servers
from shipmark.core.ref import parse
from shipmark.ops.demo import push_sample_image
from shipmark.stores import open_store


def _story(sm, store, repo):
    """record, mark, promote, pick and list through the CLI; returns the promoted digest."""
    refs = []
    for n in (1, 2):
        ref = repo.with_tag(f"1.{n}.0-b{n}.20261101.abc{n:04d}")
        push_sample_image(store, ref, "svc", datetime(2026, 11, 1, tzinfo=timezone.utc)
                          + timedelta(hours=n))
        refs.append(str(ref))
    for n, ref in enumerate(refs, 1):
        run = sm("record", ref, "--git-branch", "origin/master", "--git-commit", f"{n:040x}")
        assert run.code == 0, run.err
        assert sm("mark", ref, "--suite", "unit", "--result", "passed").code == 0
    promoted = sm("promote", refs[1], "--to", "testing", "--json")
    assert promoted.code == 0, promoted.err
    pick = sm("pick", repo.name, "--channel", "testing", "--json")
    assert pick.code == 0, pick.err
    assert pick.json["digest"] == promoted.json["digest"]
    listing = sm("list", repo.name, "--json")
    assert listing.code == 0, listing.err
    assert [i["channels"] for i in listing.json["images"]] == [["testing"], []]
    return promoted.json["digest"]


def _repo(host: str):
    return parse(f"{host}/shipmark-tls/{uuid.uuid4().hex[:12]}", default_tag=None)


def test_story_over_https_with_ca_file_and_basic_auth(registry2_tls_basic, tls_files, sm, env,
                                                      tmp_path):
    env.setenv("SHIPMARK_CA_FILE", str(tls_files.ca))
    env.setenv("SHIPMARK_REGISTRY_USERNAME", servers.TEST_USER)
    env.setenv("SHIPMARK_REGISTRY_PASSWORD", servers.TEST_PASSWORD)
    repo = _repo(registry2_tls_basic.host)
    store = open_store(repo)
    assert store.scheme(repo.registry) == "https"
    digest = _story(sm, store, repo)
    # skopeo, trusting the same CA, sees the channel tag where shipmark moved it.
    cert_dir = tls_files.certs_d(tmp_path / "skopeo", "x", client=False) / "x"
    seen = servers.run_tool("skopeo", "inspect", "--cert-dir", str(cert_dir), "--creds",
                            f"{servers.TEST_USER}:{servers.TEST_PASSWORD}", "--format",
                            "{{.Digest}}", f"docker://{repo.name}:testing").stdout.strip()
    assert seen == digest
    store.close()


def test_story_over_mutual_tls_with_certs_d_for_registry_and_token_service(
        registry2_mtls_token, tls_files, sm, env, tmp_path):
    # The registry under the loopback name its certificate holds; the token service is named
    # by the registry as https://127.0.0.1:PORT/token and is reached with the registry's
    # certs.d directory, as Docker and Podman do.
    host = f"localhost:{registry2_mtls_token.port}"
    root = tls_files.certs_d(tmp_path / "certs.d", host)
    env.setenv("SHIPMARK_CERTS_DIR", str(root))
    env.setenv("SHIPMARK_REGISTRY_USERNAME", servers.TEST_USER)
    env.setenv("SHIPMARK_REGISTRY_PASSWORD", servers.TEST_PASSWORD)
    repo = _repo(host)
    store = open_store(repo)
    issued = len(registry2_mtls_token.token_server.issued)
    _story(sm, store, repo)
    assert len(registry2_mtls_token.token_server.issued) > issued
    store.close()


def test_story_on_plain_loopback_registry_falls_back_to_http(registry2, sm, caplog):
    caplog.set_level(logging.DEBUG, logger="shipmark.registry")
    repo = _repo(registry2.host)
    store = open_store(repo)
    _story(sm, store, repo)
    assert store.scheme(repo.registry) == "http"
    probes = [r.getMessage() for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    # One HTTPS probe per process: the test's store and each in-process CLI run have their own.
    assert probes and all(registry2.host in p and p.endswith("using HTTP") for p in probes)
    store.close()


def test_without_the_ca_the_error_says_what_to_set(registry2_tls_basic, sm, env):
    env.delenv("SHIPMARK_CA_FILE", raising=False)
    env.setenv("SHIPMARK_CERTS_DIR", "")
    run = sm("pick", f"{registry2_tls_basic.host}/app/x", "--channel", "testing")
    assert run.code == 5
    assert "TLS verification failed for registry " + registry2_tls_basic.host in run.err
    assert "SHIPMARK_CA_FILE" in run.err and "ca.crt" in run.err
    assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 2


def test_without_a_client_certificate_the_error_says_where_to_put_one(
        registry2_mtls_token, tls_files, sm, env):
    env.setenv("SHIPMARK_CA_FILE", str(tls_files.ca))
    env.setenv("SHIPMARK_CERTS_DIR", "")
    run = sm("list", f"{registry2_mtls_token.host}/app/x")
    assert run.code == 5
    assert "requires a client certificate" in run.err and "client.cert" in run.err
    assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 2


@pytest.mark.parametrize("broken", ["no key", "no certificate"])
def test_a_half_client_pair_in_certs_d_is_an_input_error(registry2_mtls_token, tls_files, sm,
                                                         env, tmp_path, broken):
    root = tls_files.certs_d(tmp_path / "certs.d", registry2_mtls_token.host)
    (root / registry2_mtls_token.host / ("client.key" if broken == "no key"
                                         else "client.cert")).unlink()
    env.setenv("SHIPMARK_CERTS_DIR", str(root))
    run = sm("list", f"{registry2_mtls_token.host}/app/x")
    assert run.code == 2, run.err
    assert ("has no key client.key" if broken == "no key"
            else "has no certificate client.cert") in run.err


def test_a_ca_file_that_is_not_pem_is_an_input_error(registry2_tls_basic, sm, env, tmp_path):
    broken = tmp_path / "ca.pem"
    broken.write_text("not a certificate\n")
    env.setenv("SHIPMARK_CA_FILE", str(broken))
    run = sm("pick", f"{registry2_tls_basic.host}/app/x", "--channel", "testing")
    assert run.code == 2, run.err
    assert f"cannot read CA file {broken}" in run.err and "Traceback" not in run.err
