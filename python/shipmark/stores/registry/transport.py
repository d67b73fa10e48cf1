"""HTTP plumbing for the registry client: a pooled, retrying requests Session, per-registry TLS,
proxies from the environment, and what a TLS failure means.

Retries (urllib3 `Retry`, exponential backoff, `Retry-After` honoured) cover idempotent
requests only: GET, HEAD, PUT (manifests by tag or digest, the final PUT of an upload that
carries `?digest=`) and DELETE, on 429, 5xx, connection resets and timeouts. POST (start an
upload, mount a blob) is never retried after it was sent; a connect error is, since nothing
reached the server. Streamed bodies that cannot be rewound make a retry fail loudly instead
of sending a truncated body. TLS failures are never retried (urllib3 counts them as "other").

TLS: a request's `verify` may be a tls.TLSConfig; TLSAdapter hands its SSLContext (CAs, client
certificate) to urllib3 through the pool key, the extension point requests documents for custom
contexts, so each registry's connections are pooled with its own context.
"""

import ssl
import threading
import traceback
from typing import Iterator, Optional
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .tls import TLSConfig

RETRY_STATUS = (429, 500, 502, 503, 504)
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)
USER_AGENT = "shipmark"


def sanitize_url(url: str) -> str:
    """The URL without user:password@ and without query values that may hold secrets."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        query = "&".join(_mask_param(p) for p in query.split("&"))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _mask_param(param: str) -> str:
    key, sep, _ = param.partition("=")
    if sep and key.lower() in ("password", "token", "access_token", "refresh_token", "_state"):
        return key + "=***"
    return param


def make_retry(total: int = 4, backoff: float = 0.25) -> Retry:
    return Retry(
        total=total,
        connect=total,
        read=total,
        status=total,
        other=0,
        redirect=5,
        allowed_methods=IDEMPOTENT,
        status_forcelist=RETRY_STATUS,
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,   # give the last response back; the client maps it to an error
        raise_on_redirect=False,
    )


class TLSAdapter(HTTPAdapter):
    """HTTPAdapter that also takes a TLSConfig as `verify` (requests passes it through)."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        if not isinstance(verify, TLSConfig):
            return super().build_connection_pool_key_attributes(request, verify, cert)
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, True)
        if host_params["scheme"] != "https":
            return host_params, pool_kwargs
        return host_params, {"ssl_context": verify.ssl_context,
                             "cert_reqs": "CERT_REQUIRED" if verify.verify else "CERT_NONE"}

    def cert_verify(self, conn, url, verify, cert):
        if not isinstance(verify, TLSConfig):  # else its context carries CAs and client cert
            super().cert_verify(conn, url, verify, cert)


def make_session(pool_size: int = 16, retries: Optional[Retry] = None) -> requests.Session:
    """A Session whose connection pools hold `pool_size` connections per host, so a scan on a
    ThreadPoolExecutor of that size never waits for or discards connections."""
    session = requests.Session()
    adapter = TLSAdapter(pool_connections=8, pool_maxsize=pool_size,
                         max_retries=retries if retries is not None else make_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # No environment lookups per request (they cost a scan of the environment each time, and
    # ~/.netrc must not replace the Authorization header auth.py chose). Proxies from the
    # environment still apply: every request, registry or token service, passes
    # Proxies.for_url(url).
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    return session


class Proxies:
    """HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment, looked up once per
    (scheme, host) for the life of one store. Read by requests' own rules (its
    `get_environ_proxies`), not by settings.py: NO_PROXY matching is requests' to get right."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache: dict = {}

    def for_url(self, url: str) -> dict:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = requests.utils.get_environ_proxies(f"{parts.scheme}://{parts.netloc}/")
            found = {k: v for k, v in found.items() if k in ("http", "https", "all")}
            with self._lock:
                self._cache[key] = found
        return found


# -- what a failure means ----------------------------------------------------------------------

# OpenSSL's reasons when the bytes that came back were not TLS at all: a plain HTTP server
# answered the handshake (with its 400 page, which OpenSSL reads as a bad record header).
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                      "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNKNOWN_PROTOCOL"})
# Alerts a server sends when it wants a client certificate it did not get, or does not accept
# the one it got (Go sends bad_certificate for both in TLS 1.2).
_CLIENT_CERT = frozenset({"SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
                          "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
                          "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE", "SSLV3_ALERT_CERTIFICATE_EXPIRED",
                          "SSLV3_ALERT_CERTIFICATE_REVOKED", "TLSV1_ALERT_ACCESS_DENIED"})

PLAIN = "plain"              # the server does not speak TLS
UNTRUSTED = "untrusted"      # its certificate did not verify
CLIENT_CERT = "client-cert"  # it wants a client certificate, or refused ours
OTHER_TLS = "tls"            # any other TLS failure


def causes(exc: BaseException) -> Iterator[BaseException]:
    """exc and everything it wraps (requests -> urllib3 -> ssl/socket errors)."""
    seen = set()
    todo = [exc]
    while todo:
        cur = todo.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        for nxt in (getattr(cur, "reason", None), cur.__cause__, cur.__context__,
                    *(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def release_frames(exc: BaseException) -> None:
    """Clear the finished frames exc and its causes hold. urllib3 keeps a raised error in a
    local of the frame it raises from: a cycle that, through each frame's caller, keeps
    everything up the stack alive until the garbage collector runs. After an error that is
    expected (the scheme probe of a plain registry), callers' objects must go when they end."""
    for cause in causes(exc):
        if cause.__traceback__ is not None:
            traceback.clear_frames(cause.__traceback__)


def tls_failure(exc: BaseException):
    """(kind, detail) when exc is a TLS failure, kind one of PLAIN, UNTRUSTED, CLIENT_CERT,
    OTHER_TLS; None otherwise. detail is OpenSSL's short reason."""
    found = None
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return UNTRUSTED, cause.verify_message or cause.reason or "certificate verify failed"
        if isinstance(cause, ssl.SSLError) and isinstance(cause.reason, str):
            if cause.reason in _NOT_TLS:
                return PLAIN, cause.reason
            if cause.reason in _CLIENT_CERT:
                return CLIENT_CERT, cause.reason
            found = found or (OTHER_TLS, cause.reason)
        elif isinstance(cause, (ssl.SSLError, requests.exceptions.SSLError)):
            found = found or (OTHER_TLS, type(cause).__name__)
    return found


def https_only_answer(resp: requests.Response) -> bool:
    """Whether a 400 to a plain-HTTP request came from a server that speaks only HTTPS.
    Go's TLS servers (Docker Registry, Harbor, Zot, ...) write a bare `HTTP/1.0 400` with no
    headers and "Client sent an HTTP request to an HTTPS server."; nginx says "The plain HTTP
    request was sent to HTTPS port". A HEAD answer has no body, so there the bare 1.0 status
    line, which no registry sends otherwise, is the sign."""
    if resp.status_code != 400 or urlsplit(resp.url or "").scheme != "http":
        return False
    bare = getattr(resp.raw, "version", None) == 10 and not resp.headers
    if resp.request is not None and resp.request.method == "HEAD":
        return bare
    try:
        body = resp.content[:4096]
    except (requests.exceptions.RequestException, OSError):
        return bare
    return (b"HTTP request to an HTTPS server" in body
            or b"plain HTTP request was sent to HTTPS port" in body)


class StreamBody:
    """A file-like body of known length read from an iterator of chunks (a blob streamed from
    one registry to another). requests sends it with Content-Length, and since it cannot be
    rewound, urllib3 refuses to retry it instead of sending it truncated."""

    def __init__(self, chunks, length: int):
        self._chunks = iter(chunks)
        self._length = length
        self._buffer = b""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        raise OSError("a streamed body cannot be rewound")

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            while size < 0 or len(self._buffer) < size:
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    break
                if chunk:
                    self._buffer += chunk
            if size < 0:
                out, self._buffer = self._buffer, b""
            else:
                out, self._buffer = self._buffer[:size], self._buffer[size:]
            return out
