"""TLS per registry: which CAs to trust and which client certificate to show.

Trust is the CA bundle Python HTTP clients use by default (certifi's, or `REQUESTS_CA_BUNDLE`;
settings.py reads it and the client passes it in as `base_bundle`), plus
`SHIPMARK_CA_FILE`, plus the `*.crt` files of the registry's certs.d directory; the client
certificate is the `*.cert` + `*.key` pair of that directory. So a registry that works for
`docker pull` or `podman pull` on the machine works for shipmark without further settings.

certs.d follows containers-certs.d(5), which reads Docker's directory last: the first root
holding a directory named after the registry as image names spell it (`HOST:PORT`, or `HOST`
when they carry no port) is the only one read:
  1. $XDG_CONFIG_HOME/containers/certs.d (~/.config/containers/certs.d)
  2. /etc/containers/certs.d
  3. /etc/docker/certs.d
`SHIPMARK_CERTS_DIR` replaces that list (one or more roots, separated by `os.pathsep`); settings.py
declares both and the store receives the roots.
In a directory, every `*.crt` is a CA, and `x.cert` needs `x.key` beside it (and the reverse),
as Docker requires. Python's ssl module presents one client certificate, so with several pairs
the first by name is used. Encrypted keys are refused rather than prompted for.
"""

import logging
import os
import ssl
import threading
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from ...errors import InputError

log = logging.getLogger("shipmark.registry")


def certs_dir_for(host: str, roots: Sequence[str]) -> Optional[Path]:
    """The certs.d directory of `host` (as written in image references): the first root
    that has one wins."""
    for root in roots:
        candidate = Path(root) / host
        if candidate.is_dir():
            return candidate
    return None


class TLSConfig:
    """What one registry's connections trust and present, as an SSLContext built on the first
    HTTPS connection (loading a CA bundle takes ~60 ms: plain-HTTP registries never pay it).

    transport.Http gives the context to the urllib3 pool manager of this registry."""

    def __init__(self, ca_files: Sequence[str] = (), client_cert: Optional[Tuple[str, str]] = None,
                 verify: bool = True, base_bundle: Optional[str] = None,
                 certs_dir: Optional[Path] = None):
        self.ca_files = tuple(ca_files)
        self.client_cert = client_cert
        self.verify = verify
        self.certs_dir = certs_dir
        self._base_bundle = base_bundle
        self._context: Optional[ssl.SSLContext] = None
        self._lock = threading.Lock()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                self._context = self._build(self._base_bundle)
            return self._context

    def _build(self, base_bundle: Optional[str]) -> ssl.SSLContext:
        from urllib3.util.ssl_ import create_urllib3_context

        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if self.verify
                                         else ssl.CERT_NONE)
        if self.verify:
            context.check_hostname = True
            _load_cas(context, base_bundle or _certifi_bundle(), "the default CA bundle")
            for path in self.ca_files:
                _load_cas(context, path, "CA file")
        else:
            context.check_hostname = False
        if self.client_cert:
            cert, key = self.client_cert
            try:
                context.load_cert_chain(cert, key, password=_refuse_password(key))
            except _EncryptedKey:
                raise InputError(f"client key {key} is encrypted",
                                 "store the key without a passphrase, as Docker and Podman "
                                 "need it too (openssl pkey -in KEY -out PLAIN_KEY)") from None
            except (ssl.SSLError, OSError) as exc:
                raise InputError(f"cannot use client certificate {cert} with key {key} "
                                 f"({_reason(exc)})",
                                 "check that both are PEM files and that the key belongs "
                                 "to the certificate") from None
        return context


class TLSSettings:
    """Builds and remembers the TLSConfig of each registry host, thread-safely.

    `ca_file` adds to every registry's trust; `certs_roots` are searched per host;
    `for_host(host, verify=False)`, for hosts named insecure, skips certificate checks as
    Docker does for them. Hosts where nothing differs share one TLSConfig (one SSLContext,
    one pool manager)."""

    def __init__(self, ca_file: Optional[str] = None, certs_roots: Sequence[str] = (),
                 base_bundle: Optional[str] = None):
        self._ca_file = ca_file
        self._roots = tuple(certs_roots)
        self._base = base_bundle
        self._lock = threading.Lock()
        self._configs: Dict[Tuple[str, bool], TLSConfig] = {}
        self._default = TLSConfig(base_bundle=base_bundle)

    def for_host(self, host: str, verify: bool = True) -> TLSConfig:
        key = (host, verify)
        with self._lock:
            if key in self._configs:
                return self._configs[key]
        found = self._make(host, verify)
        with self._lock:
            return self._configs.setdefault(key, found)

    def certs_dir(self, host: str) -> Optional[Path]:
        return certs_dir_for(host, self._roots)

    def _make(self, host: str, verify: bool) -> TLSConfig:
        directory = certs_dir_for(host, self._roots)
        ca_files = [self._ca_file] if self._ca_file else []
        client = None
        if directory is not None:
            dir_cas, client = read_certs_dir(directory)
            ca_files += dir_cas
            log.debug("TLS for %s from %s (CA files: %d%s)", host, directory, len(dir_cas),
                      ", a client certificate" if client else "")
        if verify and not client and not ca_files:
            return self._default
        if not verify:
            import urllib3
            # Named insecure on purpose: no warning on every request (Docker prints none).
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        return TLSConfig(ca_files, client, verify, self._base, directory)


def read_certs_dir(directory: Path) -> Tuple[list, Optional[Tuple[str, str]]]:
    """(CA files, first client (cert, key) pair) of one certs.d directory."""
    try:
        names = sorted(p.name for p in directory.iterdir() if p.is_file())
    except OSError as exc:
        raise InputError(f"cannot read certs.d directory {directory} ({_reason(exc)})",
                         "check its permissions") from None
    cas = [str(directory / n) for n in names if n.endswith(".crt")]
    pairs = []
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext == ".cert":
            if stem + ".key" not in names:
                raise InputError(f"client certificate {directory / name} has no key "
                                 f"{stem}.key beside it",
                                 "put the key next to it, or remove the certificate")
            pairs.append((str(directory / name), str(directory / (stem + ".key"))))
        elif ext == ".key" and stem + ".cert" not in names:
            raise InputError(f"client key {directory / name} has no certificate "
                             f"{stem}.cert beside it",
                             "put the certificate next to it, or remove the key")
    if len(pairs) > 1:
        log.info("certs.d %s holds %d client certificates; using %s", directory, len(pairs),
                 pairs[0][0])
    return cas, (pairs[0] if pairs else None)


class _EncryptedKey(Exception):
    pass


def _refuse_password(key: str):
    def ask():
        raise _EncryptedKey(key)
    return ask


def _load_cas(context: ssl.SSLContext, path: str, what: str) -> None:
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"cannot read {what} {path} ({_reason(exc)})",
                         "point it at a PEM file of CA certificates") from None


def _certifi_bundle() -> str:
    import certifi

    return certifi.where()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
