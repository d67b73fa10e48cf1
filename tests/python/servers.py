"""Real services for the tests, on 127.0.0.1 with a free port and a temp dir, plus test images
and the peer clients (skopeo, oras, crane, regctl).

- Docker Registry 2.8 (Debian `docker-registry`): no referrers API, the tag-schema path.
  Optionally with htpasswd (Basic) or token (Bearer) auth, and with TLS (`make_tls_files`: a
  CA, a server certificate for localhost and 127.0.0.1, a client certificate; openssl CLI),
  with or without client-certificate verification.
- A registry with the OCI referrers API: go-containerregistry's registry, the code behind
  `crane registry serve`, built from tests/python/refreg with `WithReferrersSupport(true)`,
  because `crane registry serve` v0.22.1 leaves that API switched off.
- `crane registry serve` itself (no referrers API) for anyone who wants the stock one.
- The OCI distribution-spec conformance suite, run against any of them (run_conformance).

A missing binary fails the test, naming the command that installs it.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

from shipmark.core import mediatype as mt
from shipmark.core.descriptor import Descriptor, Manifest, canonical_json, sha256

INSTALL = {
    "docker-registry": "apt-get install -y docker-registry",
    "skopeo": "apt-get install -y skopeo",
    "crane": "go install github.com/google/go-containerregistry/cmd/crane@v0.22.1",
    "oras": "go install oras.land/oras/cmd/oras@v1.3.6",
    "regctl": "go install github.com/regclient/regclient/cmd/regctl@v0.11.7",
    "go": "a Go toolchain >= 1.25 on PATH (go-containerregistry v0.22.1 needs it)",
    "openssl": "apt-get install -y openssl",
    "oci-distribution-conformance": "bash scripts/install-test-deps.sh (builds "
                                    "github.com/opencontainers/distribution-spec/conformance)",
}
# The conformance suite's pinned version; scripts/install-test-deps.sh builds the same one.
CONFORMANCE_MODULE = "github.com/opencontainers/distribution-spec/conformance"
CONFORMANCE_VERSION = "v0.0.0-20260831232431-97274622c111"
REFREG_SRC = Path(__file__).parent / "refreg"

# htpasswd user for the Basic-auth registry: bcrypt of TEST_PASSWORD (cost 5, made once with
# Python's crypt module; Registry 2.8 reads $2b$ hashes).
TEST_USER = "shipmark"
TEST_PASSWORD = "shipmark-test-pw"
TEST_PASSWORD_BCRYPT = "$2b$05$1R/ibAxorYxX90ZhxLi.4uqxpzC3E.18hEhy93Y91mVd9kJATjV9K"


# -- tools -------------------------------------------------------------------------------------

def find_tool(name: str) -> str:
    """Path of a binary on PATH, in $GOBIN, ~/go/bin or /usr/bin; fails the test otherwise."""
    found = shutil.which(name)
    if found:
        return found
    candidates = [os.environ.get("GOBIN") or "", os.path.join(os.environ.get("GOPATH") or
                  os.path.expanduser("~/go"), "bin"), "/usr/local/go/bin", "/usr/lib/go/bin"]
    for directory in candidates:
        path = os.path.join(directory, name) if directory else ""
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail(f"{name} is not installed: run `{INSTALL.get(name, 'install ' + name)}`",
                pytrace=False)


def run_tool(name: str, *args: str, check: bool = True, timeout: float = 120,
             input: Optional[str] = None, env: Optional[dict] = None
             ) -> subprocess.CompletedProcess:
    """Run a peer client (skopeo, oras, crane, ...); on failure the assertion shows its output."""
    argv = [find_tool(name), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
    return proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- servers -----------------------------------------------------------------------------------

class Server:
    """A child process serving the distribution API on 127.0.0.1:port."""

    def __init__(self, name: str, argv: Sequence[str], port: int, workdir: Path,
                 env: Optional[dict] = None, ready_status: Tuple[int, ...] = (200, 401),
                 tls: Optional["TLSFiles"] = None):
        self.tls = tls                    # set: the server speaks HTTPS with tls.server_cert
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.workdir = Path(workdir)
        self.env = env
        self.ready_status = ready_status
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.workdir / f"{name}.log"
        self.cleanup: List[Path] = []     # storage directories removed at stop

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self, timeout: float = 30.0) -> "Server":
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(self.workdir),
                                     env={**os.environ, **(self.env or {})},
                                     start_new_session=True)
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        handlers = [urllib.request.ProxyHandler({})]
        if self.tls:
            handlers.append(urllib.request.HTTPSHandler(context=self.tls.client_context()))
        opener = urllib.request.build_opener(*handlers)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode} at start-up:\n"
                            f"{self.log_tail()}", pytrace=False)
            try:
                with opener.open(self.url + "/v2/", timeout=2) as resp:
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = None
            if status in self.ready_status:
                return
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.name} did not answer /v2/ within {timeout:.0f}s:\n"
                            f"{self.log_tail()}", pytrace=False)
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def storage_dir(name: str, fallback: Path) -> Path:
    """Where a registry keeps its data: RAM (/dev/shm) when there is one, since this machine's
    disk is slow under load and the tests measure shipmark, not the disk; else `fallback`."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        import tempfile
        return Path(tempfile.mkdtemp(prefix=f"shipmark-{name}-", dir=shm))
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def start_registry2(workdir: Path, auth: Optional[dict] = None, tls: Optional["TLSFiles"] = None,
                    client_certs: bool = False) -> Server:
    """Docker Registry 2.8 with filesystem storage and deletes enabled. `auth` is the config's
    `auth:` section (see htpasswd_auth / TokenServer.registry_auth). With `tls` it serves
    HTTPS with tls.server_cert, and with `client_certs` it also requires a client
    certificate signed by tls.ca (`http.tls.clientcas`)."""
    binary = find_tool("docker-registry")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data = storage_dir("registry2", workdir / "data")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(data)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    if auth:
        config["auth"] = auth
    if tls:
        config["http"]["tls"] = {"certificate": str(tls.server_cert), "key": str(tls.server_key)}
        if client_certs:
            config["http"]["tls"]["clientcas"] = [str(tls.ca)]
    config_path = workdir / "config.yml"
    config_path.write_text(json.dumps(config, indent=2))  # YAML is a superset of JSON
    server = Server("registry2", [binary, "serve", str(config_path)], port, workdir, tls=tls)
    server.cleanup.append(data)
    return server.start()


def htpasswd_auth(workdir: Path, user: str = TEST_USER,
                  bcrypt_hash: str = TEST_PASSWORD_BCRYPT) -> dict:
    path = Path(workdir) / "htpasswd"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{user}:{bcrypt_hash}\n")
    return {"htpasswd": {"realm": "shipmark-test", "path": str(path)}}


class TLSFiles:
    """A test CA (`ca`, `ca_key`), a server certificate it signed for localhost and 127.0.0.1,
    and a client certificate it signed (clientAuth), all PEM files in one directory."""

    __test__ = False

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.ca, self.ca_key = self.directory / "ca.crt", self.directory / "ca.key"
        self.server_cert = self.directory / "server.crt"
        self.server_key = self.directory / "server.key"
        self.client_cert = self.directory / "client.crt"
        self.client_key = self.directory / "client.key"

    def certs_d(self, root: Path, host: str, ca: bool = True, client: bool = True) -> Path:
        """A certs.d root holding `host`'s directory as Docker documents it: ca.crt,
        client.cert, client.key."""
        directory = Path(root) / host
        directory.mkdir(parents=True, exist_ok=True)
        if ca:
            shutil.copy(self.ca, directory / "ca.crt")
        if client:
            shutil.copy(self.client_cert, directory / "client.cert")
            shutil.copy(self.client_key, directory / "client.key")
        return Path(root)

    def client_context(self) -> ssl.SSLContext:
        """What a test's own HTTPS client uses: trusts the CA, shows the client certificate."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def server_context(self, client_certs: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.server_cert), str(self.server_key))
        if client_certs:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(self.ca))
        return context


def make_tls_files(directory: Path) -> TLSFiles:
    """CA, server and client certificates (P-256 keys, valid two days) made with openssl."""
    openssl = find_tool("openssl")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(directory)

    def run(*args):
        subprocess.run([openssl, *map(str, args)], check=True, capture_output=True,
                       cwd=str(directory))

    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *new_key, "-keyout", files.ca_key, "-out", files.ca, "-days", "2",
        "-subj", "/CN=shipmark test CA")
    leaf = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    for name, subject, extra in (
            ("server", "/CN=localhost",
             "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
            ("client", "/CN=shipmark test client", "extendedKeyUsage=clientAuth\n")):
        ext = directory / f"{name}.ext"
        ext.write_text(leaf + extra)
        run("req", "-new", *new_key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", subject)
        run("x509", "-req", "-in", f"{name}.csr", "-CA", files.ca, "-CAkey", files.ca_key,
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext)
    return files


def build_refreg(cache_dir: Path) -> Path:
    """tests/python/refreg, built once per source version (a few seconds with a warm cache)."""
    return build_go_program(REFREG_SRC, cache_dir)


def default_build_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "shipmark-tests"


def start_referrers_registry(workdir: Path, build_cache: Optional[Path] = None,
                             legacy: bool = False) -> Server:
    """The referrers-API registry (tests/python/refreg). `legacy`: without the API's newer
    parts (artifactType filtering, the OCI-Subject header), as older registries answer."""
    binary = build_refreg(build_cache or default_build_cache())
    workdir = Path(workdir)
    name = "legacy-referrers-registry" if legacy else "referrers-registry"
    blobs = storage_dir(name, workdir / "blobs")
    port = free_port()
    argv = [str(binary), "-address", f"127.0.0.1:{port}", "-disk", str(blobs)]
    if legacy:
        argv.append("-legacy-referrers")
    server = Server(name, argv, port, workdir)
    server.cleanup.append(blobs)
    return server.start()


def start_crane_registry(workdir: Path) -> Server:
    """Stock `crane registry serve` (no referrers API)."""
    crane = find_tool("crane")
    workdir = Path(workdir)
    (workdir / "blobs").mkdir(parents=True, exist_ok=True)
    port = free_port()
    return Server("crane-registry", [crane, "registry", "serve", "--address",
                                     f"127.0.0.1:{port}", "--disk", str(workdir / "blobs")],
                  port, workdir).start()


# -- the OCI distribution-spec conformance suite ---------------------------------------------

@dataclass
class SpecResult:
    name: str                         # e.g. "image/push/manifest-by-digest"
    status: str                       # junit status: passed | skipped | failure | error
    message: str                      # what the suite found wrong, for failures


@dataclass
class ConformanceRun:
    results: List[SpecResult]         # every spec the suite ran, in its order (from junit.xml)
    totals: Dict[str, int]            # pass / fail / skip / disabled / error / total
    apis: Dict[str, str]              # results.yaml: API name -> Pass | FAIL | Skip | Disabled
    output: str                       # the suite's own summary (stdout)


def conformance_suite() -> str:
    """The conformance binary at the pinned version; fails naming the install otherwise."""
    binary = find_tool("oci-distribution-conformance")
    info = subprocess.run([find_tool("go"), "version", "-m", binary], capture_output=True,
                          text=True, timeout=60).stdout
    if f"\tmod\t{CONFORMANCE_MODULE}\t{CONFORMANCE_VERSION}" not in info:
        pytest.fail(f"{binary} is not {CONFORMANCE_MODULE}@{CONFORMANCE_VERSION}: run "
                    f"`{INSTALL['oci-distribution-conformance']}`", pytrace=False)
    return binary


def run_conformance(server: Server, results_dir: Path, **settings: str) -> ConformanceRun:
    """Run the suite against server (plain HTTP, two fresh repositories) with OCI_* settings
    such as OCI_API_REFERRER="false"; read what it wrote to results_dir, not its exit code."""
    import xml.etree.ElementTree as ElementTree
    import yaml

    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"conformance/{secrets.token_hex(4)}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OCI_")}
    env.update({"OCI_REGISTRY": server.host, "OCI_TLS": "disabled", "OCI_LOG": "error",
                "OCI_REPO1": f"{prefix}/repo1", "OCI_REPO2": f"{prefix}/repo2",
                "OCI_RESULTS_DIR": str(results_dir)})   # and no oci-conformance.yaml in cwd
    env.update(settings)
    proc = subprocess.run([conformance_suite()], env=env, cwd=str(results_dir),
                          capture_output=True, text=True, timeout=600)
    junit = results_dir / "junit.xml"
    if not junit.exists():
        pytest.fail(f"the conformance suite wrote no junit.xml (exit {proc.returncode}):\n"
                    f"{proc.stderr[-3000:]}", pytrace=False)
    root = ElementTree.parse(junit).getroot()
    results = []
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        message = case.findtext("system-out") or (problem.get("message", "") if problem is not None else "")
        results.append(SpecResult(case.get("name", "").removeprefix("OCI Conformance Test/"),
                                  case.get("status", ""), message.strip()))
    counts = {key: int(root.get(key) or 0) for key in ("tests", "failures", "errors", "skipped", "disabled")}
    totals = {"pass": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
              - counts["disabled"], "fail": counts["failures"], "skip": counts["skipped"],
              "disabled": counts["disabled"], "error": counts["errors"], "total": counts["tests"]}
    report = yaml.safe_load((results_dir / "results.yaml").read_text())
    apis = {str(k): str(v) for k, v in (report.get("apis") or {}).items()}
    return ConformanceRun(results, totals, apis, proc.stdout)


# -- token auth --------------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer:
    """A Docker token service: GET /token?service=&scope= with Basic credentials answers
    {"token": JWT}. RS256-signed with a throwaway self-signed certificate (openssl CLI), sent in
    the JWT's x5c header; Registry 2.8 trusts it through `auth.token.rootcertbundle`.
    Right credentials get the actions asked for; none get an empty grant; wrong ones a 401."""

    service = "shipmark-test-registry"
    issuer = "shipmark-test-token-issuer"

    def __init__(self, workdir: Path, user: str = TEST_USER, password: str = TEST_PASSWORD,
                 tls: Optional[TLSFiles] = None, client_certs: bool = False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.user, self.password = user, password
        self.key = self.workdir / "token.key"
        self.cert = self.workdir / "token.crt"
        openssl = find_tool("openssl")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(self.key), "-out", str(self.cert), "-days", "2", "-subj",
                        "/CN=shipmark-test-token"], check=True, capture_output=True)
        der = subprocess.run([openssl, "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self._x5c = base64.b64encode(der).decode("ascii")
        self._openssl = openssl
        self.issued: List[dict] = []   # claims of every token handed out
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.tls = tls
        if tls:  # HTTPS, and with client_certs only for clients showing a certificate of tls.ca
            self._server.socket = tls.server_context(client_certs).wrap_socket(
                self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}/token"

    def registry_auth(self) -> dict:
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.cert)}}

    def start(self) -> "TokenServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (_b64url(json.dumps(header).encode()) + "." +
                         _b64url(json.dumps(claims).encode()))
        sig = subprocess.run([self._openssl, "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input.encode(), check=True,
                             capture_output=True).stdout
        return signing_input + "." + _b64url(sig)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                who = None
                auth = self.headers.get("Authorization") or ""
                if auth.startswith("Basic "):
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if (user, password) != (server.user, server.password):
                        self._answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                        return
                    who = user
                access = []
                for scope in query.get("scope", []):
                    for one in scope.split(" "):
                        kind, _, rest = one.partition(":")
                        name, _, actions = rest.rpartition(":")
                        if kind == "repository" and who:
                            access.append({"type": kind, "name": name,
                                           "actions": actions.split(",")})
                now = int(time.time())
                claims = {"iss": server.issuer, "sub": who or "", "aud": server.service,
                          "exp": now + 300, "nbf": now - 10, "iat": now,
                          "jti": secrets.token_hex(8), "access": access}
                server.issued.append(claims)
                self._answer(200, {"token": server.sign(claims), "expires_in": 300})

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


# -- test images and records -------------------------------------------------------------------

@dataclass
class TestImage:
    repo: object                      # Ref of the repository
    tag: Optional[str]
    manifest: Manifest
    blobs: Dict[str, bytes] = field(default_factory=dict)

    __test__ = False                  # not a pytest test class

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.manifest.media_type, self.manifest.digest, len(self.manifest.raw))

    @property
    def ref(self):
        return self.repo.with_tag(self.tag) if self.tag else self.repo.with_digest(self.digest)


def _layer(seed: str, size: int = 0) -> Tuple[bytes, bytes]:
    """(gzip layer, uncompressed tar), deterministic for a seed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        content = f"shipmark test layer {seed}\n".encode()
        if size:
            content += hashlib.sha256(seed.encode()).digest() * (size // 32 + 1)
            content = content[:max(size, len(content))]
        info = tarfile.TarInfo(f"etc/shipmark-{seed}.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    raw = buf.getvalue()
    return gzip.compress(raw, compresslevel=6, mtime=0), raw


def build_image(seed: str = "base", media: str = "oci", labels: Optional[dict] = None,
                layer_size: int = 0) -> Tuple[Manifest, Dict[str, bytes]]:
    """A small real image: config + one gzip layer, as an OCI or Docker v2 manifest.
    Deterministic for (seed, media, labels)."""
    layer, tar = _layer(seed, layer_size)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-11-28T00:00:00Z",
        "config": {"Labels": dict(labels or {}), "Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        "history": [{"created": "2026-11-28T00:00:00Z", "created_by": f"shipmark test {seed}"}],
    }
    config_raw = canonical_json(config)
    if media == "oci":
        media_type, config_type, layer_type = mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_LAYER_GZIP
    elif media == "docker":
        media_type, config_type = mt.DOCKER_MANIFEST, mt.DOCKER_CONFIG
        layer_type = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    else:
        raise ValueError(media)
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": sha256(config_raw),
                   "size": len(config_raw)},
        "layers": [{"mediaType": layer_type, "digest": sha256(layer), "size": len(layer)}],
    }
    # Pretty-printed on purpose: stores must keep these exact bytes, not re-serialise them.
    raw = json.dumps(manifest, indent=3).encode() + b"\n"
    return Manifest(media_type, raw), {sha256(config_raw): config_raw, sha256(layer): layer}


def push_image(store, repo, tag: Optional[str] = "v1", seed: str = "base", media: str = "oci",
               labels: Optional[dict] = None, layer_size: int = 0) -> TestImage:
    manifest, blobs = build_image(seed, media, labels, layer_size)
    for digest, data in blobs.items():
        store.put_blob(repo, data, digest)
    target = repo.with_tag(tag) if tag else repo.with_digest(manifest.digest)
    store.put_manifest(target, manifest)
    return TestImage(repo, tag, manifest, blobs)


def build_record(subject: Descriptor, index: int = 0, kind: str = "test",
                 suite: str = "unit", result: str = "passed",
                 created: str = "2026-11-28T00:00:00Z") -> Tuple[Manifest, Dict[str, bytes]]:
    """A shipmark record manifest: artifactType record, empty config, one in-toto layer,
    subject = the image; distinct per `index`."""
    from shipmark.core.record import PREDICATE_TYPES
    predicate = ({"result": result.upper(),
                  "configuration": [{"name": suite, "uri": f"https://jenkins.example/job/app/{index}/"}],
                  "url": f"https://jenkins.example/job/app/{index}/",
                  "passedTests": [f"t{index}"], "failedTests": [], "warnedTests": []} if kind == "test"
                 else {"reason": f"record {index}"})
    statement = {
        "_type": mt.STATEMENT_V1,
        "subject": [{"name": "image", "digest": {"sha256": subject.digest[7:]}}],
        "predicateType": PREDICATE_TYPES[kind],
        "predicate": predicate,
    }
    layer = canonical_json(statement)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": mt.RECORD_ARTIFACT,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_DIGEST, "size": 2},
        "layers": [{"mediaType": mt.IN_TOTO, "digest": sha256(layer), "size": len(layer),
                    "annotations": {mt.A_TITLE: "statement.intoto.json"}}],
        "subject": subject.to_json(),
        "annotations": {mt.A_CREATED: created, mt.A_KIND: kind, mt.A_SUITE: suite,
                        mt.A_RESULT: result, mt.A_BY: f"https://jenkins.example/job/app/{index}/"},
    }
    return (Manifest(mt.OCI_MANIFEST, canonical_json(manifest)),
            {mt.EMPTY_DIGEST: mt.EMPTY_JSON, sha256(layer): layer})


# -- the in-toto attestation validator ---------------------------------------------------------

INTOTO_SRC = Path(__file__).parent / "intoto"


def build_go_program(src: Path, cache_dir: Path) -> Path:
    """Build the Go program in `src` once per source version (its .go files, go.mod, go.sum) and
    keep the binary under cache_dir. Needs the module cache filled once (`go mod download` in
    src, or the first build with the Go module proxy reachable); offline after that."""
    src = Path(src)
    digest = hashlib.sha256()
    for source in sorted(src.glob("*.go")) + [src / "go.mod", src / "go.sum"]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    binary = Path(cache_dir) / f"{src.name}-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    go = find_tool("go")
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_name(binary.name + f".tmp{os.getpid()}")
    proc = subprocess.run([go, "build", "-buildvcs=false", "-mod=readonly", "-o", str(tmp), "."],
                          cwd=str(src), capture_output=True, text=True, timeout=600,
                          env={**os.environ, "CGO_ENABLED": "0"})
    if proc.returncode != 0:
        pytest.fail(f"building {src} failed; its modules come from the Go module proxy: run "
                    f"`cd {src} && go mod download` once with network access.\n"
                    f"{proc.stderr[-3000:]}", pytrace=False)
    os.replace(tmp, binary)
    return binary


def build_intoto(cache_dir: Optional[Path] = None) -> Path:
    """tests/python/intoto: in-toto Statements checked by the in-toto attestation Go library."""
    return build_go_program(INTOTO_SRC, cache_dir or default_build_cache())
