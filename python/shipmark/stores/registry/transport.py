"""HTTP plumbing for the registry client: pooled, retrying HTTP over urllib3 (`Http`),
per-registry TLS, proxies from the environment, the plain-HTTP rule, bounded reads, and what a
TLS failure means.

Retries (urllib3 `Retry`, exponential backoff, `Retry-After` honoured) cover idempotent
requests only: GET, HEAD, PUT (manifests by tag or digest, the final PUT of an upload that
carries `?digest=`) and DELETE, on 429, 5xx, connection resets and timeouts. POST (start an
upload, mount a blob) is never retried after it was sent; a connect error is, since nothing
reached the server. Streamed bodies that cannot be rewound make a retry fail loudly instead
of sending a truncated body. TLS failures are never retried (urllib3 counts them as "other").
No retry starts, and no backoff sleeps, past the command's deadline (`DeadlineRetry`).

The plain-HTTP rule (`allowed_url`): HTTPS anywhere, plain HTTP only to loopback hosts and
hosts named in SHIPMARK_INSECURE_REGISTRIES, as Docker has it for registries. It holds for
every URL shipmark sends a request to, and so for the credentials that go with it: the
registry, its token realm, `Link` and `Location` URLs, and every redirect (`Http.request`
checks each hop, and drops the Authorization header when the origin changes).

Every answer is streamed and read with `read_body`: at most a limit, checking the deadline
between pieces as they arrive, never decompressed (`Accept-Encoding: identity`).

TLS: each registry's tls.TLSConfig (CAs, client certificate) becomes the SSLContext of its own
urllib3 pool manager, so its connections are pooled with its own context.
"""

import ipaddress
import ssl
import threading
import time
import traceback
from typing import Callable, Collection, Dict, Iterator, List, Optional, Tuple
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

import urllib3
from urllib3.util.retry import Retry

from .tls import TLSConfig

RETRY_STATUS = (429, 500, 502, 503, 504)
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = "shipmark"
PIECE = 64 * 1024          # what one read of a streamed body asks for
SMALL_BODY = 64 * 1024     # the most read of an answer whose body is not used (errors, redirects)


# -- where requests may go -----------------------------------------------------------------------

def host_only(registry: str) -> str:
    """'127.0.0.1:5000' -> '127.0.0.1', '[::1]:5000' -> '::1', 'localhost' -> 'localhost'."""
    if registry.startswith("["):
        return registry[1:].split("]", 1)[0]
    if registry.count(":") == 1:
        return registry.split(":", 1)[0]
    return registry


def is_loopback(registry: str) -> bool:
    """By spelling only (nothing is resolved): 127.0.0.0/8, ::1, localhost and *.localhost."""
    host = host_only(registry).lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_allowed(registry: str, insecure: Collection[str]) -> bool:
    """Docker's rule: plain HTTP only for loopback hosts and those named insecure (`insecure`
    holds lower-case `host` or `host:port` entries)."""
    reg = registry.lower()
    return is_loopback(reg) or reg in insecure or host_only(reg) in insecure


def allowed_url(url: str, insecure: Collection[str]) -> bool:
    """May shipmark send a request to url, and with it the credentials meant for that host?
    Any https:// URL; an http:// URL only where `plain_http_allowed`; nothing else."""
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port   # a malformed port raises ValueError
    except ValueError:
        return False
    if not hostname or parts.scheme not in ("http", "https"):
        return False
    return parts.scheme == "https" or plain_http_allowed(parts.netloc.rsplit("@", 1)[-1], insecure)


PLAIN_HTTP_REFUSED = "plain HTTP to a host that is neither loopback nor in SHIPMARK_INSECURE_REGISTRIES"


class RedirectRefused(Exception):
    """A redirect to a URL the plain-HTTP rule does not allow; `target` is safe to show."""

    def __init__(self, target: str):
        super().__init__(target)
        self.target = sanitize_url(target)


# -- reading answers -----------------------------------------------------------------------------

class BodyTooLarge(Exception):
    """An answer's body is longer than the limit it was read with."""


class DeadlinePassed(Exception):
    """The command's deadline passed while an answer was still arriving."""


def read_body(resp: "Answer", limit: Optional[int], deadline: Optional[float] = None) -> bytes:
    """The body of a streamed answer, read in pieces as they arrive and closed at the end. More
    than `limit` bytes raise BodyTooLarge: at once when Content-Length says so, else once
    limit + 1 bytes have come. `deadline` (time.monotonic()) is checked between pieces, so a
    server that drips its answer cannot hold the command past it (a piece itself waits at most
    the read timeout). urllib3's `read1` returns what one receive brings; its `read(n)` would
    wait for all n bytes."""
    try:
        length = resp.headers.get("Content-Length", "").strip()
        if limit is not None and length.isdigit() and int(length) > limit:
            raise BodyTooLarge()
        data = bytearray()
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlinePassed()
            piece = resp.raw.read1(PIECE, decode_content=False)
            if not piece:
                return bytes(data)
            data += piece
            if limit is not None and len(data) > limit:
                raise BodyTooLarge()
    finally:
        resp.close()   # a body read to its end has already given its connection back to the pool


def with_query(url: str, pairs: List[Tuple[str, str]]) -> str:
    """url with the pairs added to the query it may already have (an upload Location, a realm)."""
    parts = urlsplit(url)
    extra = urlencode(pairs)
    query = f"{parts.query}&{extra}" if parts.query and extra else (parts.query or extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


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


class DeadlineRetry(Retry):
    """urllib3's Retry that is exhausted once `deadline` (time.monotonic()) has passed, and
    whose backoff and Retry-After sleeps end at it (a server's `Retry-After: 3600` included)."""

    deadline: Optional[float] = None

    def new(self, **kw):
        retry = super().new(**kw)
        retry.deadline = self.deadline
        return retry

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self._left() <= 0

    def get_backoff_time(self) -> float:
        return min(super().get_backoff_time(), self._left())

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, self._left())

    def _left(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - time.monotonic())


def make_retry(total: int = 4, backoff: float = 0.25) -> Retry:
    return DeadlineRetry(
        total=total,
        connect=total,
        read=total,
        status=total,
        other=0,
        redirect=0,   # never used: Http follows redirects itself
        allowed_methods=IDEMPOTENT,
        status_forcelist=RETRY_STATUS,
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,   # give the last response back; the client maps it to an error
        raise_on_redirect=False,
    )


class Answer:
    """One answer, its body not read yet: read it with `read_body`, or `close` it.

    `url` is where it came from after any redirects, `method` the request's."""

    __slots__ = ("raw", "status_code", "headers", "url", "method")

    def __init__(self, raw: urllib3.BaseHTTPResponse, url: str, method: str):
        self.raw = raw
        self.status_code = raw.status
        self.headers = raw.headers
        self.url = url
        self.method = method

    def next_link(self) -> Optional[str]:
        """The target of a `Link: <...>; rel="next"` header, as sent (maybe relative)."""
        for value in self.headers.getlist("Link"):
            for part in value.split(","):
                target, _, params = part.partition(";")
                target = target.strip()
                rels = [p.split("=", 1)[1].strip().strip('"').split()
                        for p in params.split(";") if p.strip().lower().startswith("rel=")]
                if target.startswith("<") and target.endswith(">") and any("next" in r for r in rels):
                    return target[1:-1]
        return None

    def close(self) -> None:
        self.raw.close()          # a body not read to its end: its connection is not reused
        self.raw.release_conn()   # (one read to its end went back to the pool already)


class TooManyRedirects(urllib3.exceptions.HTTPError):
    """More than Http.MAX_REDIRECTS hops; the last URL (safe to show) is the message."""


class Http:
    """Pooled HTTP over urllib3 for one store: a pool manager per TLS setting and proxy, the
    command's retries and deadline, proxies from the environment, and redirects that obey the
    plain-HTTP rule (`allowed(url)`).

    Why not requests: per request it prepares, merges settings and hooks, which cost more CPU
    than the rest of a registry call (a cold scan makes thousands), and importing it costs a
    start-up in itself; none of what it adds (cookies, netrc, charset detection) is wanted.
    Redirects are followed here, not by urllib3: the rule must be checked before each hop, and
    the Authorization header dropped when the origin (scheme, host, port) changes."""

    MAX_REDIRECTS = 10

    def __init__(self, allowed: Callable[[str], bool], pool_size: int = 16,
                 retries: Optional[Retry] = None, deadline: Optional[float] = None):
        self._allowed = allowed
        self._pool_size = pool_size
        retry = retries if retries is not None else make_retry()
        if isinstance(retry, DeadlineRetry):
            retry = retry.new()   # a copy: the one passed in may serve other stores
            retry.deadline = deadline
        self._retry = retry
        self._retry_any_method = retry.new(allowed_methods=None)
        self.deadline = deadline
        self.proxies = Proxies()
        self._lock = threading.Lock()
        self._managers: Dict[Tuple[Optional[TLSConfig], Optional[str]], urllib3.PoolManager] = {}

    def request(self, method: str, url: str, *, tls: TLSConfig, timeout: Tuple[float, float],
                headers: Optional[Dict[str, str]] = None, body=None,
                follow_redirects: bool = True, idempotent: bool = False) -> Answer:
        """Send, following redirects (at most MAX_REDIRECTS) unless told not to. `idempotent`:
        retried like a GET whatever the method (a POST that names its content's digest).
        Raises urllib3's errors, and RedirectRefused for a hop the plain-HTTP rule forbids."""
        retries = self._retry_any_method if idempotent else self._retry
        sent = {"User-Agent": USER_AGENT,
                "Accept-Encoding": "identity"}   # bytes as stored: digests, and no zip bombs
        sent.update(headers or {})
        for _ in range(self.MAX_REDIRECTS + 1):
            raw = self._manager(tls, url).urlopen(
                method, url, headers=sent, body=body, redirect=False, retries=retries,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
                preload_content=False, decode_content=False)
            answer = Answer(raw, url, method)
            target = raw.get_redirect_location() if follow_redirects else None
            if not target:
                return answer
            nxt = urljoin(url, target)
            if not self._allowed(nxt):
                answer.close()
                raise RedirectRefused(nxt)
            try:
                read_body(answer, SMALL_BODY, self.deadline)   # its connection goes back
            except (BodyTooLarge, DeadlinePassed, urllib3.exceptions.HTTPError, OSError):
                pass   # read_body closed it
            if _origin(nxt) != _origin(url):
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method, body = ("HEAD" if method == "HEAD" else "GET"), None
            url = nxt
        raise TooManyRedirects(sanitize_url(url))

    def close(self) -> None:
        with self._lock:
            managers, self._managers = list(self._managers.values()), {}
        for manager in managers:
            manager.clear()

    def _manager(self, tls: TLSConfig, url: str) -> urllib3.PoolManager:
        """The pool manager for this URL's proxy and, for HTTPS, this TLS setting: each
        registry's connections are pooled with its own SSLContext, `pool_size` per host, so a
        scan on a worker pool of that size never waits for or drops connections. Plain-HTTP
        URLs share one (no SSLContext built: loading a CA bundle takes ~60 ms)."""
        proxy = self.proxies.for_url(url)
        https = url[:6].lower() == "https:"
        key = (tls if https else None, proxy)
        with self._lock:
            found = self._managers.get(key)
            if found is None:
                found = self._managers[key] = _pool_manager(tls if https else None, proxy,
                                                            self._pool_size)
            return found


def _pool_manager(tls: Optional[TLSConfig], proxy: Optional[str], size: int) -> urllib3.PoolManager:
    kw: dict = {"num_pools": 8, "maxsize": size}
    if tls is not None:
        kw.update(ssl_context=tls.ssl_context, cert_reqs="CERT_REQUIRED" if tls.verify else "CERT_NONE")
    if proxy is None:
        return urllib3.PoolManager(**kw)
    parts = urlsplit(proxy)
    proxy_headers = None
    if parts.username is not None:
        userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        proxy_headers = urllib3.util.make_headers(proxy_basic_auth=userinfo)
        proxy = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, "", ""))
    return urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **kw)


def _origin(url: str) -> Tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.rsplit("@", 1)[-1].lower()


class Proxies:
    """HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY from the environment, looked up once
    per (scheme, host) for the life of one store, by the standard library's rules
    (`urllib.request.getproxies`, `proxy_bypass`), with NO_PROXY entries that are
    networks (`10.0.0.0/8`) matched as such, as Docker and curl do. Not read by settings.py:
    these variables are the environment's convention for every HTTP client."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache: Dict[Tuple[str, str], Optional[str]] = {}
        self._env: Optional[dict] = None

    def for_url(self, url: str) -> Optional[str]:
        """The proxy URL for `url`, None for a direct connection."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        found = self._lookup(parts.scheme, parts.netloc.rsplit("@", 1)[-1])
        with self._lock:
            self._cache[key] = found
        return found

    def _lookup(self, scheme: str, netloc: str) -> Optional[str]:
        import urllib.request

        if self._env is None:
            self._env = urllib.request.getproxies()
        proxy = self._env.get(scheme) or self._env.get("all")
        if not proxy:
            return None
        if urllib.request.proxy_bypass(netloc) or _in_networks(
                host_only(netloc), self._env.get("no", "")):
            return None
        return proxy if "://" in proxy else "http://" + proxy


def _in_networks(host: str, no_proxy: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in no_proxy.split(","):
        try:
            if "/" in entry and address in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


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
    """exc and everything it wraps (urllib3 -> ssl/socket errors)."""
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
        elif isinstance(cause, (ssl.SSLError, urllib3.exceptions.SSLError)):
            found = found or (OTHER_TLS, type(cause).__name__)
    return found


def https_only_answer(resp: "Answer", body: bytes) -> bool:
    """Whether a 400 to a plain-HTTP request came from a server that speaks only HTTPS (`body`:
    what was read of its body). Go's TLS servers (Docker Registry, Harbor, Zot, ...) write a
    bare `HTTP/1.0 400` with no headers and "Client sent an HTTP request to an HTTPS server.";
    nginx says "The plain HTTP request was sent to HTTPS port". A HEAD answer has no body, so
    there the bare 1.0 status line, which no registry sends otherwise, is the sign."""
    if resp.status_code != 400 or urlsplit(resp.url or "").scheme != "http":
        return False
    bare = getattr(resp.raw, "version", None) == 10 and not resp.headers
    if resp.method == "HEAD":
        return bare
    return (b"HTTP request to an HTTPS server" in body
            or b"plain HTTP request was sent to HTTPS port" in body)


class StreamBody:
    """A file-like body of known length read from an iterator of chunks (a blob streamed from
    one registry to another). It is sent with Content-Length, and since it cannot be rewound,
    urllib3 refuses to retry it instead of sending it truncated."""

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
