"""A hostile or broken registry (or OCI layout) cannot hurt the people who run shipmark: issue 10's
rows about the registry and the transport, each reproduced against a misbehaving server on
loopback, through the real command (in a child process, measured) or the store API.

What every failure must look like: one `shipmark: error:` line (and a hint), exit 5 (2 for a
bad local OCI layout), no traceback, nothing on stdout, nothing left in the cache.

No test resolves or contacts a non-loopback name: "another host" is 127.0.0.2, reached either by
its address (loopback, so plain HTTP is allowed there) or as `other-host.test`, a name that is
not loopback by its spelling (so the plain-HTTP rule applies) and that `socket.getaddrinfo`,
patched in-process, maps to 127.0.0.2; any other name fails to resolve.
"""

import json
import socket
import time

import pytest

from hostile_registry import OCI_MANIFEST, Answer, HostileRegistry, drip, sha256, zeros

from shipmark.core import mediatype as mt
from shipmark.core.ref import parse
from shipmark.errors import AuthError, InputError, RegistryError
from shipmark.stores.base import Limits, MiB

REPO, VERSION = "app", "1.0.0"
CRAFTED = "sha256:" + "a" * 64 + "$(touch PWNED)"
NIGHTLY = "channels:\n  nightly: {auto: true}\n"
OTHER = "other-host.test"      # not loopback by its spelling; 127.0.0.2 through the patched resolver


def manifest_path(tag=VERSION):
    return rf"^/v2/{REPO}/manifests/{tag.replace('.', '[.]')}$"


def failed_cleanly(ran, code=5):
    """One error line (and a hint), the documented exit code, no traceback, nothing on stdout."""
    lines = ran.err.splitlines()
    assert ran.code == code, ran.err
    assert lines and lines[0].startswith("shipmark: error: "), ran.err
    assert all(line.startswith(("shipmark: error: ", "hint: ")) for line in lines), ran.err
    assert "Traceback" not in ran.err and ran.out == ""
    return lines[0]


def cached_files(cache):
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


def registry_store(limits=Limits(), **kwargs):
    from shipmark.stores.registry import RegistryStore
    return RegistryStore(limits=limits, **kwargs)


@pytest.fixture
def other_host_name(monkeypatch, other_host):
    """`other-host.test:PORT` reaches the 127.0.0.2 server; no other name resolves at all."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == OTHER:
            host = "127.0.0.2"
        elif host not in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not resolved in tests")
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return f"{OTHER}:{other_host.host.rsplit(':', 1)[1]}"


# -- 1. digests and tags: full match, and the bytes decide -------------------------------------

def test_pick_refuses_a_crafted_digest_header(hostile, shipmark, tmp_path):
    """Row 1: `Docker-Content-Digest: sha256:aaa…a$(touch PWNED)` reached `pick`'s output."""
    hostile.serve_image(REPO, VERSION)
    raw = hostile.manifest(REPO, VERSION)
    headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": CRAFTED}
    hostile.route("HEAD", manifest_path(), Answer(headers=headers, length=len(raw)))
    hostile.route("GET", manifest_path(), Answer(headers=headers, body=raw))
    (tmp_path / "policy.yaml").write_text(NIGHTLY)
    ran = shipmark("pick", f"{hostile.host}/{REPO}", "--channel", "nightly", "--policy", "policy.yaml")
    line = failed_cleanly(ran)
    assert hostile.host in line and "Docker-Content-Digest" in line
    assert not (tmp_path / "PWNED").exists()


def test_manifest_by_tag_is_checked_against_its_bytes(hostile):
    hostile.serve_image(REPO, VERSION)
    raw = hostile.manifest(REPO, VERSION)
    other = sha256(b"another manifest")
    hostile.route("GET", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST,
                                                          "Docker-Content-Digest": other}, body=raw))
    with registry_store() as store, pytest.raises(RegistryError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert other in err.value.message and sha256(raw) in err.value.message
    assert err.value.exit_code == 5


def test_manifest_by_digest_must_hash_to_that_digest(hostile):
    digest = hostile.serve_image(REPO, VERSION)
    hostile.route("GET", rf"/manifests/{digest}$", Answer(headers={"Content-Type": OCI_MANIFEST,
                                                                   "Docker-Content-Digest": digest},
                                                          body=b'{"schemaVersion":2}'))
    with registry_store() as store, pytest.raises(RegistryError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}@{digest}"))
    assert digest in err.value.message


def test_manifest_without_a_digest_header_is_named_by_its_bytes(hostile):
    hostile.serve_image(REPO, VERSION)
    raw = hostile.manifest(REPO, VERSION)
    hostile.route("GET", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST}, body=raw))
    with registry_store() as store:
        assert store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}")).digest == sha256(raw)


@pytest.mark.parametrize("header", [CRAFTED, "sha512:" + "a" * 128, "sha256:" + "A" * 64, "sha256:abc"])
def test_head_with_an_invalid_digest_header_is_an_error(hostile, header):
    hostile.route("HEAD", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST,
                                                           "Docker-Content-Digest": header}, length=100))
    with registry_store() as store, pytest.raises(RegistryError) as err:
        store.head_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert "Docker-Content-Digest" in err.value.message and hostile.host in err.value.message


def test_tags_that_are_not_tags_are_dropped(hostile):
    """Row 2: a trailing newline after a valid tag was accepted."""
    listed = ["1.0.0", "1.0.1\n", "$(touch PWNED)", "-x", "a" * 129, 7, None, "1.0.2"]
    hostile.route("GET", rf"^/v2/{REPO}/tags/list", Answer(body=json.dumps({"tags": listed}).encode()))
    with registry_store() as store:
        assert store.list_tags(parse(f"{hostile.host}/{REPO}", default_tag=None)) == ["1.0.0", "1.0.2"]


def test_referrers_whose_digest_is_not_a_digest_are_skipped(hostile):
    subject = sha256(b"subject")
    good, bad = sha256(b"good"), sha256(b"bad") + "\n"
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": good, "size": 10, "artifactType": mt.RECORD_ARTIFACT},
        {"mediaType": OCI_MANIFEST, "digest": bad, "size": 10, "artifactType": mt.RECORD_ARTIFACT},
        {"mediaType": OCI_MANIFEST, "digest": "sha256:../../etc/passwd", "size": 10}]}
    hostile.route("GET", rf"/referrers/{subject}$", Answer(headers={"Content-Type": mt.OCI_INDEX},
                                                           body=json.dumps(index).encode()))
    with registry_store() as store:
        answer = store.referrers(parse(f"{hostile.host}/{REPO}", default_tag=None), subject)
    assert [d.digest for d in answer.descriptors] == [good]


# -- the OCI layout: index.json and blobs come from outside too --------------------------------

def _layout(tmp_path):
    from shipmark.core.descriptor import Manifest
    from shipmark.stores.ocidir import OciDirStore

    path = tmp_path / "layout"
    store = OciDirStore(str(path))
    repo = parse(f"ocidir://{path}", default_tag=None)
    config = b'{"architecture":"amd64","os":"linux"}'
    store.put_blob(repo, config)
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": sha256(config), "size": len(config)}, "layers": []}).encode()
    digest = store.put_manifest(repo.with_tag(VERSION), Manifest(OCI_MANIFEST, raw))
    return path, repo, digest


def _rewrite_index(path, change):
    index = json.loads((path / "index.json").read_text())
    change(index["manifests"][0])
    (path / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("digest", ["sha256:../../etc/passwd", "sha256:" + "../" * 21 + "x",
                                    "sha256:" + "a" * 64 + "\n"])
def test_pick_refuses_an_index_json_digest_that_is_not_a_digest(tmp_path, shipmark, digest):
    """Row 3: an `ocidir` index.json digest `sha256:../../etc/passwd` came out of `pick`."""
    path, _, _ = _layout(tmp_path)
    _rewrite_index(path, lambda entry: entry.update(digest=digest))
    (tmp_path / "policy.yaml").write_text(NIGHTLY)
    ran = shipmark("pick", f"ocidir://{path}", "--channel", "nightly", "--policy", "policy.yaml")
    line = failed_cleanly(ran, code=2)
    assert "index.json" in line and str(path) in line


def test_layout_blobs_are_checked_against_their_digest(tmp_path):
    from shipmark.stores.ocidir import OciDirStore

    path, repo, digest = _layout(tmp_path)
    (path / "blobs" / "sha256" / digest[7:]).write_bytes(b'{"schemaVersion":2,"layers":[]}')
    store = OciDirStore(str(path))
    with pytest.raises(InputError) as err:
        store.get_manifest(repo.with_tag(VERSION))
    assert digest in err.value.message and str(path) in err.value.message
    with pytest.raises(InputError):
        store.get_blob(repo, digest)


def test_layout_tags_that_are_not_tags_are_dropped(tmp_path):
    from shipmark.stores.ocidir import OciDirStore

    path, repo, _ = _layout(tmp_path)
    _rewrite_index(path, lambda entry: entry["annotations"].update({mt.A_REF_NAME: VERSION + "\n"}))
    assert OciDirStore(str(path)).list_tags(repo) == []


def test_layout_reads_are_bounded(tmp_path):
    from shipmark.stores.ocidir import OciDirStore

    path, repo, digest = _layout(tmp_path)
    small = Limits(manifest_bytes=64, payload_bytes=16)
    store = OciDirStore(str(path), limits=small)
    with pytest.raises(InputError) as err:
        store.get_manifest(repo.with_tag(VERSION))
    assert "64 bytes" in err.value.message
    config = json.loads((path / "blobs" / "sha256" / digest[7:]).read_bytes())["config"]["digest"]
    with pytest.raises(InputError) as err:
        store.get_blob(repo, config, max_bytes=small.payload_bytes)
    assert "16 bytes" in err.value.message


# -- 2. bounds: sizes, pages, time --------------------------------------------------------------

@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "no-length"])
def test_a_2_gib_manifest_is_refused_in_bounded_memory_and_time(hostile, shipmark, with_length):
    """Row 5: a 2 GiB manifest was read whole (4.25 GB RSS, 28.6 s) and left in the cache."""
    size = 2 << 30
    hostile.route("HEAD", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST}, length=None))
    hostile.route("GET", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST}, body=zeros(size),
                                                 length=size if with_length else None))
    hostile.route("GET", rf"^/v2/{REPO}/tags/list", Answer(body=json.dumps({"tags": [VERSION]}).encode()))
    ran = shipmark("status", f"{hostile.host}/{REPO}:{VERSION}", "--no-policy")
    line = failed_cleanly(ran)
    assert "4 MiB" in line and hostile.host in line
    assert ran.max_rss_mib < 200 and ran.seconds < 20
    assert cached_files(shipmark.cache) == []


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "no-length"])
def test_a_300_mib_record_layer_is_not_read_whole(hostile, shipmark, with_length):
    """Row 6: a 300 MiB record layer was read into memory (649 MB RSS). The record does not
    count; the command still answers."""
    subject = hostile.serve_image(REPO, VERSION)
    raw = hostile.manifest(REPO, VERSION)
    size = 300 * MiB
    payload = sha256(b"the statement it claims to be")
    record = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": mt.RECORD_ARTIFACT,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_DIGEST, "size": 2},
        "layers": [{"mediaType": mt.IN_TOTO, "digest": payload, "size": 100}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(raw)},
        "annotations": {mt.A_KIND: "test", mt.A_CREATED: "2026-01-01T00:00:00Z"}}).encode()
    record_tag = f"sha256-{subject[7:39]}.{sha256(record)[7:]}"
    hostile.route("GET", rf"/manifests/{sha256(record)}$", Answer(headers={"Content-Type": OCI_MANIFEST},
                                                                  body=record))
    hostile.route("GET", rf"^/v2/{REPO}/tags/list",
                  Answer(body=json.dumps({"tags": [VERSION, record_tag]}).encode()))
    hostile.route("GET", rf"/blobs/{payload}$", Answer(body=zeros(size), length=size if with_length else None))
    ran = shipmark("status", f"{hostile.host}/{REPO}:{VERSION}", "--no-policy", "--json")
    assert ran.code == 0, ran.err
    status = json.loads(ran.out)
    assert hostile.seen("GET", rf"/blobs/{payload}$")
    assert ran.max_rss_mib < 200 and ran.seconds < 20
    assert "1 MiB" in json.dumps(status)
    assert not [p for p in cached_files(shipmark.cache) if "payloads" in str(p)]


def test_record_payloads_are_read_up_to_the_payload_limit(hostile):
    data = b"x" * 5000
    digest = sha256(data)
    hostile.route("GET", rf"/blobs/{digest}$", Answer(body=data, length=None))
    repo = parse(f"{hostile.host}/{REPO}", default_tag=None)
    with registry_store(Limits(payload_bytes=4096)) as store:
        with pytest.raises(RegistryError) as err:
            store.get_blob(repo, digest, max_bytes=4096)
        assert "4 KiB" in err.value.message and err.value.exit_code == 5
        assert store.get_blob(repo, digest) == data      # layers (copies) are not limited


def test_a_content_length_over_the_limit_is_refused_before_reading(hostile):
    """Headers that announce 2 GiB, then silence: refused at once, no byte of the body awaited."""
    hostile.route("GET", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST}, body=drip(b"{}"),
                                                 length=2 << 30, chunk_delay=30))
    started = time.monotonic()
    with registry_store(Limits(read_timeout=10)) as store, pytest.raises(RegistryError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert "larger than 4 MiB" in err.value.message
    assert time.monotonic() - started < 5


def test_endless_tag_pagination_stops_at_the_page_limit(hostile, shipmark):
    """Row 7: endless `Link` pagination was followed for 5,001 pages (5 M tags)."""
    def page(request):
        n = int(request.path.rsplit("last=t", 1)[1]) + 1 if "last=t" in request.path else 0
        return Answer(headers={"Link": f'</v2/{REPO}/tags/list?n=1&last=t{n}>; rel="next"'},
                      body=json.dumps({"tags": [f"t{n}"]}).encode())
    hostile.route("GET", rf"^/v2/{REPO}/tags/list", page)
    ran = shipmark("list", f"{hostile.host}/{REPO}", "--no-policy")
    line = failed_cleanly(ran)
    assert "1,000 pages" in line and "SHIPMARK_MAX_TAG_PAGES" in line
    assert len(hostile.seen("GET", "/tags/list")) == 1000
    assert ran.max_rss_mib < 200 and ran.seconds < 60


def test_tag_listing_stops_at_the_tag_limit(hostile):
    def page(request):
        n = int(request.path.rsplit("last=t", 1)[1]) + 1 if "last=t" in request.path else 0
        tags = [f"t{n}-{i}" for i in range(1000)]
        return Answer(headers={"Link": f'</v2/{REPO}/tags/list?n=1000&last=t{n}>; rel="next"'},
                      body=json.dumps({"tags": tags}).encode())
    hostile.route("GET", rf"^/v2/{REPO}/tags/list", page)
    with registry_store(Limits(tags=2500)) as store, pytest.raises(RegistryError) as err:
        store.list_tags(parse(f"{hostile.host}/{REPO}", default_tag=None))
    assert "2,500 tags" in err.value.message
    assert "--max-tags" in err.value.message and "SHIPMARK_MAX_TAGS" in err.value.message
    assert len(hostile.seen("GET", "/tags/list")) == 3


def test_one_huge_tag_page_stops_at_the_tag_limit(hostile):
    """Registry 2.8 sends every tag in one page: the page itself is bounded by the tag limit."""
    size = 1 << 30
    hostile.route("GET", rf"^/v2/{REPO}/tags/list", Answer(body=zeros(size), length=None))
    with registry_store(Limits(tags=1000)) as store, pytest.raises(RegistryError) as err:
        store.list_tags(parse(f"{hostile.host}/{REPO}", default_tag=None))
    assert "1,000 tags" in err.value.message


def test_an_error_body_is_not_read_whole(hostile):
    hostile.route("GET", manifest_path(), Answer(404, body=zeros(1 << 30), length=None))
    with registry_store() as store, pytest.raises(Exception) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert err.value.exit_code == 4


def test_a_dripping_registry_fails_at_the_deadline(hostile, shipmark):
    """Row 8: a body dripped one byte per 5 s was waited for (180 s, then exit 0)."""
    hostile.serve_image(REPO, VERSION)
    raw = hostile.manifest(REPO, VERSION)
    hostile.route("HEAD", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST}, length=None))
    hostile.route("GET", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST}, body=drip(raw),
                                                 length=len(raw), chunk_delay=5.0))
    ran = shipmark("status", f"{hostile.host}/{REPO}:{VERSION}", "--no-policy",
                   env={"SHIPMARK_TIMEOUT": "3"})
    line = failed_cleanly(ran)
    assert f"registry {hostile.host} did not answer within the 3 s deadline" in line
    assert "SHIPMARK_TIMEOUT" in line
    assert ran.seconds < 8


def test_the_deadline_is_checked_between_chunks(hostile):
    """Bytes every 0.2 s never trip the read timeout; the deadline still ends the read."""
    hostile.serve_image(REPO, VERSION)
    raw = hostile.manifest(REPO, VERSION)
    hostile.route("GET", manifest_path(), Answer(headers={"Content-Type": OCI_MANIFEST}, body=drip(raw),
                                                 length=len(raw), chunk_delay=0.2))
    started = time.monotonic()
    with registry_store(Limits(deadline=2.0, read_timeout=1.0)) as store, pytest.raises(RegistryError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert "2 s deadline" in err.value.message
    assert 1.9 < time.monotonic() - started < 3.0


def test_a_registry_that_never_answers_fails_at_the_deadline(shipmark):
    """Row 8: a server that never answers cost 5 × 120 s = 605 s."""
    with HostileRegistry(silent=True) as silent:
        ran = shipmark("status", f"{silent.host}/{REPO}:{VERSION}", "--no-policy",
                       env={"SHIPMARK_TIMEOUT": "3"})
    line = failed_cleanly(ran)
    assert f"registry {silent.host} did not answer within the 3 s deadline" in line
    assert ran.seconds < 8


def test_headers_dripped_a_byte_at_a_time_end_at_the_deadline(shipmark):
    """No read ever waits long enough to time out, and requests cannot bound the time headers
    take: the process alarm ends the command shortly after the deadline, with exit 5."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def drip_headers():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not stop.wait(0.5):
                    try:
                        conn.sendall(b"a")
                    except OSError:
                        break

    threading.Thread(target=drip_headers, daemon=True).start()
    host = "127.0.0.1:%d" % listener.getsockname()[1]
    try:
        ran = shipmark("status", f"{host}/{REPO}:{VERSION}", "--no-policy", env={"SHIPMARK_TIMEOUT": "2"},
                       timeout=40)
    finally:
        stop.set()
        listener.close()
    line = failed_cleanly(ran)
    assert "did not finish within its 2 s deadline" in line
    assert ran.seconds < 15


def test_an_unreachable_registry_says_why_at_the_deadline():
    from servers import free_port

    host = f"127.0.0.1:{free_port()}"   # nothing listens there
    with registry_store(Limits(deadline=1.5)) as store, pytest.raises(RegistryError) as err:
        store.head_manifest(parse(f"{host}/{REPO}:{VERSION}"))
    assert "1.5 s deadline" in err.value.message and "refused the connection" in err.value.message


def test_retries_stop_at_the_deadline(hostile):
    hostile.route("GET", manifest_path(), Answer(hang=True))
    started = time.monotonic()
    with registry_store(Limits(deadline=2.0, read_timeout=0.5)) as store, pytest.raises(RegistryError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert "2 s deadline" in err.value.message
    assert time.monotonic() - started < 3.0
    assert len(hostile.seen("GET", "/manifests/")) < 5


def test_retry_after_does_not_sleep_past_the_deadline(hostile):
    hostile.route("GET", manifest_path(), Answer(503, headers={"Retry-After": "60"}))
    started = time.monotonic()
    with registry_store(Limits(deadline=2.0)) as store, pytest.raises(RegistryError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert time.monotonic() - started < 3.0
    assert err.value.exit_code == 5


def test_each_store_keeps_one_deadline(hostile):
    """Several requests share the command's deadline: the second starts with what is left."""
    hostile.serve_image(REPO, VERSION)
    ref = parse(f"{hostile.host}/{REPO}:{VERSION}")
    with registry_store(Limits(deadline=1.0)) as store:
        store.head_manifest(ref)
        time.sleep(1.1)
        with pytest.raises(RegistryError) as err:
            store.head_manifest(ref)
    assert "1 s deadline" in err.value.message


# -- 3. credentials go only where they belong ---------------------------------------------------

@pytest.mark.parametrize("url,insecure,allowed", [
    ("https://registry.example/v2/", (), True),
    ("https://other-host/token", (), True),
    ("http://other-host/token", (), False),
    ("http://other-host:8080/token", ("other-host",), True),
    ("http://other-host:8080/token", ("other-host:8080",), True),
    ("http://other-host:8080/token", ("other-host:9090",), False),
    ("http://OTHER-HOST/token", ("other-host",), True),
    ("http://127.0.0.1:5000/token", (), True),
    ("http://127.9.9.9/token", (), True),
    ("http://localhost/token", (), True),
    ("http://[::1]:5000/token", (), True),
    ("http://user:secret@other-host/token", (), False),
    ("http://127.0.0.1.other-host/token", (), False),
    ("ftp://127.0.0.1/token", (), False),
    ("file:///etc/passwd", (), False),
    ("http:///token", (), False),
    ("//other-host/token", (), False),
])
def test_the_plain_http_rule(url, insecure, allowed):
    from shipmark.stores.registry.transport import allowed_url
    assert allowed_url(url, insecure) is allowed


def _challenge(hostile, realm):
    hostile.route("GET", r"/manifests/", lambda request: Answer(
        401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="hostile"'}))


CREDS = ("robot", "s3cret")


def test_a_plain_http_token_realm_on_another_host_gets_no_credentials(hostile, other_host, other_host_name):
    """Row 9: `Bearer realm="http://other-host/token"` got `Authorization: Basic` in plain HTTP."""
    _challenge(hostile, f"http://{other_host_name}/token")
    with registry_store(creds_for=lambda host: CREDS) as store, pytest.raises(AuthError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert other_host.requests == []
    assert f"http://{other_host_name}/token" in err.value.message
    assert "SHIPMARK_INSECURE_REGISTRIES" in err.value.hint
    assert CREDS[1] not in err.value.message + err.value.hint


def test_a_listed_plain_http_token_realm_is_used(hostile, other_host, other_host_name):
    """The same realm, named in SHIPMARK_INSECURE_REGISTRIES, gets the credentials."""
    _challenge(hostile, f"http://{other_host_name}/token")
    other_host.route("GET", r"^/token", Answer(body=b'{"token": "t0k3n"}'))
    with registry_store(creds_for=lambda host: CREDS, insecure_registries=[OTHER]) as store:
        with pytest.raises(Exception):
            store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert other_host.seen("GET", r"^/token", header="Authorization")


def test_a_redirect_to_plain_http_on_another_host_is_refused(hostile, other_host, other_host_name):
    """Row 10: a 302 to a plain-HTTP URL on another host was followed."""
    digest = sha256(b"blob")
    hostile.route("GET", rf"/blobs/{digest}$", Answer(302, {"Location": f"http://{other_host_name}/blob"}))
    with registry_store() as store, pytest.raises(RegistryError) as err:
        store.get_blob(parse(f"{hostile.host}/{REPO}", default_tag=None), digest)
    assert other_host.requests == []
    assert f"http://{other_host_name}/blob" in err.value.message and "redirect" in err.value.message
    assert err.value.exit_code == 5


def test_a_token_realm_redirect_to_plain_http_on_another_host_is_refused(hostile, other_host, other_host_name):
    _challenge(hostile, f"http://{hostile.host}/token")
    hostile.route("GET", r"^/token", Answer(302, {"Location": f"http://{other_host_name}/token"}))
    with registry_store(creds_for=lambda host: CREDS) as store, pytest.raises(AuthError) as err:
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert other_host.requests == []
    assert "redirect" in err.value.message and f"http://{other_host_name}/token" in err.value.message


def test_a_next_page_on_plain_http_elsewhere_is_refused(hostile, other_host, other_host_name):
    hostile.route("GET", rf"^/v2/{REPO}/tags/list", Answer(
        headers={"Link": f'<http://{other_host_name}/v2/{REPO}/tags/list?last=a>; rel="next"'},
        body=b'{"tags": ["a"]}'))
    with registry_store() as store, pytest.raises(RegistryError) as err:
        store.list_tags(parse(f"{hostile.host}/{REPO}", default_tag=None))
    assert other_host.requests == [] and other_host_name in err.value.message


def test_a_redirect_body_is_not_read_whole(hostile):
    """requests reads a redirect's body before following it: here at most 64 KiB of it."""
    digest = sha256(b"blob")
    hostile.route("GET", rf"/blobs/{digest}$", Answer(302, {"Location": "/elsewhere"}, body=zeros(100 * MiB),
                                                      length=None, chunk_delay=1.0))
    hostile.route("GET", r"^/elsewhere$", Answer(body=b"blob"))
    started = time.monotonic()
    with registry_store() as store:
        assert store.get_blob(parse(f"{hostile.host}/{REPO}", default_tag=None), digest) == b"blob"
    assert time.monotonic() - started < 5


def test_no_authorization_header_follows_a_cross_host_redirect(hostile, other_host):
    """Basic credentials to the registry; its redirect to 127.0.0.2 (loopback: allowed) carries
    none of them."""
    digest = sha256(b"blob")
    hostile.route("GET", rf"/blobs/{digest}$", lambda request: (
        Answer(302, {"Location": f"http://{other_host.host}/blob"}) if "Authorization" in request.headers
        else Answer(401, {"WWW-Authenticate": 'Basic realm="hostile"'})))
    other_host.route("GET", r"^/blob$", Answer(body=b"blob"))
    with registry_store(creds_for=lambda host: CREDS) as store:
        assert store.get_blob(parse(f"{hostile.host}/{REPO}", default_tag=None), digest) == b"blob"
    assert hostile.seen("GET", "/blobs/", header="Authorization")
    assert other_host.seen("GET", "/blob") and not other_host.seen(header="Authorization")


def test_no_credentials_follow_a_token_realm_redirect_to_another_host(hostile, other_host):
    _challenge(hostile, f"http://{hostile.host}/token")
    hostile.route("GET", r"^/token", Answer(302, {"Location": f"http://{other_host.host}/token"}))
    other_host.route("GET", r"^/token", Answer(body=b'{"token": "t0k3n"}'))
    with registry_store(creds_for=lambda host: CREDS) as store, pytest.raises(Exception):
        store.get_manifest(parse(f"{hostile.host}/{REPO}:{VERSION}"))
    assert hostile.seen("GET", r"^/token", header="Authorization")
    assert other_host.seen("GET", r"^/token") and not other_host.seen(header="Authorization")
