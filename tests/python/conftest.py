"""Fixtures shared by the Python tests: real registries on loopback and the `store` fixture.

- `registry2`, `registry2_basic`, `registry2_token`, `referrers_registry`,
  `legacy_referrers_registry`, `crane_registry`: session-scoped servers on 127.0.0.1 (free
  port, temp dir), started on first use, stopped at the end of the run. A missing binary fails
  the test and names the install command.
- `registry2_tls_basic` (HTTPS + Basic auth) and `registry2_mtls_token` (HTTPS that requires a
  client certificate + Bearer tokens from an HTTPS token service that requires one too), both
  with the certificates of `tls_files` (a CA made for the run).
- `store`: parametrised over "ocidir" (an OCI layout in tmp_path), "registry2" (Docker
  Registry 2.8: no referrers API), "referrers" (a registry with the whole referrers API of the
  distribution spec v1.1, proven by the conformance suite) and "legacy-referrers" (the same
  registry without artifactType filtering and the OCI-Subject header, as older registries
  answer); yields a StoreCase with a fresh repository. `registry_store` is the same over the
  three registries.
- Tests that use a server get the `servers` marker automatically (`-m "not servers"` skips
  them). Sockets stay enabled here: tests/python/unit disables them in its own conftest.
"""

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import servers  # noqa: E402

from shipmark.core.ref import Ref, parse  # noqa: E402

# Each registry kind of the store fixtures and the session fixture that serves it.
REGISTRY_FIXTURES = {"registry2": "registry2", "referrers": "referrers_registry",
                     "legacy-referrers": "legacy_referrers_registry"}
REGISTRY_KINDS = tuple(REGISTRY_FIXTURES)
STORE_KINDS = ("ocidir",) + REGISTRY_KINDS
REFERRERS_API_KINDS = ("referrers", "legacy-referrers")
SERVER_FIXTURES = {"registry2", "registry2_basic", "registry2_token", "referrers_registry",
                   "legacy_referrers_registry", "crane_registry", "registry_store", "conformance",
                   "registry2_tls_basic", "registry2_mtls_token"}
# The conformance suite's settings per registry kind: sha512 stays out (shipmark writes sha256
# only), upload cancel is in (off by default), and Registry 2.8 has no referrers API to test.
_SUITE = {"OCI_DATA_SHA512": "false", "OCI_API_BLOBS_UPLOAD_CANCEL": "true"}
CONFORMANCE_SETTINGS = {
    "registry2": {**_SUITE, "OCI_API_REFERRER": "false"},
    "referrers": _SUITE,
    "legacy-referrers": _SUITE,
}
_conformance_runs = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "servers: needs real registries on loopback "
                                       "(started by the session fixtures)")


def pytest_terminal_summary(terminalreporter):
    """The conformance suite's totals per registry, and the outcome of each named spec that
    tests/python/conformance checks (test_named_spec records them as user properties)."""
    for kind, run in _conformance_runs.items():
        t = run.totals
        terminalreporter.write_line(
            f"OCI conformance suite {servers.CONFORMANCE_VERSION} on {kind}: {t['pass']} pass, "
            f"{t['fail']} fail, {t['skip']} skip, {t['disabled']} disabled of {t['total']}")
    outcomes = {}
    for status in ("passed", "failed"):
        for report in terminalreporter.stats.get(status, []):
            props = dict(getattr(report, "user_properties", ()))
            if "named_spec" in props and report.when == "call":
                gaps = props.get("known_gaps")
                outcomes.setdefault(props["named_spec"], {})[props["registry"]] = \
                    f"{status} (known gap: {gaps})" if gaps and status == "passed" else status
    for spec, by_kind in outcomes.items():
        terminalreporter.write_line(f"  named spec {spec!r}: " + ", ".join(
            f"{kind} {outcome}" for kind, outcome in sorted(by_kind.items())))


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        uses_server = bool(names & SERVER_FIXTURES)
        callspec = getattr(item, "callspec", None)
        if "store" in names and callspec is not None:
            uses_server = uses_server or callspec.params.get("store") in REGISTRY_KINDS
        if uses_server:
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory):
    """No developer credentials or cache leak into tests; the manifest cache lives in tmp."""
    saved = {k: os.environ.get(k) for k in ("SHIPMARK_CACHE_DIR", "SHIPMARK_REGISTRY_USERNAME",
                                            "SHIPMARK_REGISTRY_PASSWORD", "DOCKER_CONFIG")}
    os.environ["SHIPMARK_CACHE_DIR"] = str(tmp_path_factory.mktemp("shipmark-cache"))
    os.environ["DOCKER_CONFIG"] = str(tmp_path_factory.mktemp("docker-config"))
    os.environ.pop("SHIPMARK_REGISTRY_USERNAME", None)
    os.environ.pop("SHIPMARK_REGISTRY_PASSWORD", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# -- servers ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def registry2(tmp_path_factory):
    server = servers.start_registry2(tmp_path_factory.mktemp("registry2"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry2_basic(tmp_path_factory):
    """Docker Registry 2.8 with htpasswd (Basic) auth: servers.TEST_USER / TEST_PASSWORD."""
    workdir = tmp_path_factory.mktemp("registry2-basic")
    server = servers.start_registry2(workdir, auth=servers.htpasswd_auth(workdir))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry2_token(tmp_path_factory):
    """Docker Registry 2.8 with token (Bearer) auth; `.token_server` issues the tokens."""
    workdir = tmp_path_factory.mktemp("registry2-token")
    token_server = servers.TokenServer(workdir / "token").start()
    server = servers.start_registry2(workdir, auth=token_server.registry_auth())
    server.token_server = token_server
    yield server
    server.stop()
    token_server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    return servers.make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def registry2_tls_basic(tmp_path_factory, tls_files):
    """Docker Registry 2.8 over HTTPS (tls_files.server_cert) with htpasswd (Basic) auth."""
    workdir = tmp_path_factory.mktemp("registry2-tls-basic")
    server = servers.start_registry2(workdir, auth=servers.htpasswd_auth(workdir), tls=tls_files)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry2_mtls_token(tmp_path_factory, tls_files):
    """Docker Registry 2.8 over HTTPS requiring a client certificate of tls_files.ca, with
    token auth from an HTTPS token service (`.token_server`) that requires one as well."""
    workdir = tmp_path_factory.mktemp("registry2-mtls-token")
    token_server = servers.TokenServer(workdir / "token", tls=tls_files, client_certs=True).start()
    server = servers.start_registry2(workdir, auth=token_server.registry_auth(), tls=tls_files,
                                     client_certs=True)
    server.token_server = token_server
    yield server
    server.stop()
    token_server.stop()


@pytest.fixture(scope="session")
def referrers_registry(tmp_path_factory):
    """The referrers API as the distribution spec v1.1 has it (tests/python/refreg)."""
    server = servers.start_referrers_registry(tmp_path_factory.mktemp("referrers-registry"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def legacy_referrers_registry(tmp_path_factory):
    """The same registry without artifactType filtering and the OCI-Subject header."""
    server = servers.start_referrers_registry(
        tmp_path_factory.mktemp("legacy-referrers-registry"), legacy=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def crane_registry(tmp_path_factory):
    server = servers.start_crane_registry(tmp_path_factory.mktemp("crane-registry"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def conformance(request, tmp_path_factory):
    """conformance(kind) -> servers.ConformanceRun: the OCI distribution-spec conformance suite
    run once per test run against that registry kind's session fixture."""
    def run(kind: str) -> servers.ConformanceRun:
        if kind not in _conformance_runs:
            server = request.getfixturevalue(REGISTRY_FIXTURES[kind])
            _conformance_runs[kind] = servers.run_conformance(
                server, tmp_path_factory.mktemp(f"conformance-{kind}"), **CONFORMANCE_SETTINGS[kind])
        return _conformance_runs[kind]
    return run


# -- stores ----------------------------------------------------------------------------------

@dataclass
class StoreCase:
    """One store under test and a fresh repository on it."""

    kind: str                         # "ocidir" or one of REGISTRY_KINDS
    store: object
    repo: Ref
    server: Optional[servers.Server]
    tmp_path: Path
    _opened: List[object] = None

    def __iter__(self):
        return iter((self.store, self.repo))

    @property
    def is_registry(self) -> bool:
        return self.server is not None

    @property
    def native_referrers(self) -> bool:
        return self.kind in REFERRERS_API_KINDS

    def repo_text(self) -> str:
        return self.repo.name

    def new_repo(self) -> Ref:
        """Another fresh repository (for an OCI layout: another layout directory)."""
        if self.server is None:
            return parse(f"ocidir://{self.tmp_path / ('layout-' + uuid.uuid4().hex[:8])}",
                         default_tag=None)
        return parse(f"{self.server.host}/shipmark-test/{uuid.uuid4().hex[:12]}",
                     default_tag=None)

    def open(self, ref: Ref, settings=None):
        """Another store object for ref (closed at teardown)."""
        from shipmark.stores import open_store

        store = open_store(ref, settings)
        self._opened.append(store)
        return store

    def through(self, proxy):
        """(store, repo) for the same repository reached through a FaultProxy."""
        import dataclasses

        repo = dataclasses.replace(self.repo, registry=proxy.host)
        return self.open(repo), repo

    # Peer clients' spelling of an image of this case.
    def skopeo_ref(self, reference: str, repo: Optional[Ref] = None) -> str:
        repo = repo or self.repo
        if self.server is None:
            return f"oci:{repo.registry}:{reference}" if ":" not in reference else \
                f"oci:{repo.registry}@{reference}"
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"docker://{repo.name}{sep}{reference}"

    def skopeo_flags(self) -> List[str]:
        return ["--tls-verify=false"] if self.server is not None else []

    def oras_target(self, digest: str, repo: Optional[Ref] = None) -> List[str]:
        repo = repo or self.repo
        if self.server is None:
            return ["--oci-layout", f"{repo.registry}@{digest}"]
        return ["--plain-http", f"{repo.name}@{digest}"]


def _make_case(kind: str, request, tmp_path: Path) -> StoreCase:
    from shipmark.stores import open_store

    if kind == "ocidir":
        repo = parse(f"ocidir://{tmp_path / 'layout'}", default_tag=None)
        server = None
    else:
        server = request.getfixturevalue(REGISTRY_FIXTURES[kind])
        repo = parse(f"{server.host}/shipmark-test/{uuid.uuid4().hex[:12]}", default_tag=None)
    store = open_store(repo)
    return StoreCase(kind, store, repo, server, tmp_path, [store])


@pytest.fixture(params=STORE_KINDS)
def store(request, tmp_path):
    case = _make_case(request.param, request, tmp_path)
    yield case
    for opened in case._opened:
        opened.close()


@pytest.fixture(params=REGISTRY_KINDS)
def registry_store(request, tmp_path):
    case = _make_case(request.param, request, tmp_path)
    yield case
    for opened in case._opened:
        opened.close()


@pytest.fixture
def no_proxy_env(monkeypatch):
    """No proxy variable of the environment running the tests (either case); returns monkeypatch
    to set the test's own."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)
    return monkeypatch


# -- the command line in-process ---------------------------------------------------------------

# Variables a developer's or a Jenkins agent's shell may carry into a test run.
OUTSIDE_VARS = ("BUILD_URL", "JOB_NAME", "BUILD_NUMBER", "GIT_COMMIT", "GIT_BRANCH", "GIT_URL", "JENKINS_URL",
                "JENKINS_USER", "JENKINS_API_TOKEN", "SHIPMARK_POLICY", "SHIPMARK_BY", "SHIPMARK_STRICT_JENKINS",
                "SHIPMARK_DESCRIPTION_FORMAT", "PROMOTED_JOB_FULL_NAME", "PROMOTED_NUMBER", "IMAGE",
                "SHIPMARK_SIGNING_KEY", "SHIPMARK_SIGNING_KEY_PASSWORD", "SHIPMARK_POLICY_KEY",
                "SHIPMARK_TIMEOUT", "SHIPMARK_MAX_TAGS", "SHIPMARK_MAX_TAG_PAGES", "SHIPMARK_KEEP_BUILD_FOR",
                "SHIPMARK_JENKINS_TIMEOUT")


class Run:
    """What one `shipmark` call left: exit code, stdout, stderr (and stdout parsed as JSON)."""

    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def json(self):
        import json
        return json.loads(self.out)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment in tmp_path: no Jenkins or shipmark variables from outside."""
    for var in OUTSIDE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def cli(capsys, env):
    """cli("mark", ...) runs main() in-process and captures stdout, stderr and the exit code."""
    from shipmark.__main__ import main

    def run(*argv):
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)
    return run
