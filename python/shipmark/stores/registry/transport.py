"""HTTP plumbing for the registry client: a pooled, retrying requests Session.

Retries (urllib3 `Retry`, exponential backoff, `Retry-After` honoured) cover idempotent
requests only: GET, HEAD, PUT (manifests by tag or digest, the final PUT of an upload that
carries `?digest=`) and DELETE, on 429, 5xx, connection resets and timeouts. POST (start an
upload, mount a blob) is never retried after it was sent; a connect error is, since nothing
reached the server. Streamed bodies that cannot be rewound make a retry fail loudly instead
of sending a truncated body.
"""

import threading
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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


def make_session(pool_size: int = 16, retries: Optional[Retry] = None,
                 verify=True) -> requests.Session:
    """A Session whose connection pools hold `pool_size` connections per host, so a scan on a
    ThreadPoolExecutor of that size never waits for or discards connections."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_size,
                          max_retries=retries if retries is not None else make_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = verify
    # No environment lookups per request (they cost a scan of os.environ each time, and
    # ~/.netrc must not replace the Authorization header auth.py chose). Proxies from the
    # environment still apply: the client passes proxies_for(url) with each request.
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    return session


_proxy_lock = threading.Lock()
_proxy_cache: dict = {}


def proxies_for(url: str) -> dict:
    """HTTP(S)_PROXY / NO_PROXY from the environment for this URL's scheme and host,
    looked up once per (scheme, host) and process."""
    parts = urlsplit(url)
    key = (parts.scheme, parts.netloc)
    with _proxy_lock:
        found = _proxy_cache.get(key)
    if found is None:
        found = requests.utils.get_environ_proxies(f"{parts.scheme}://{parts.netloc}/")
        found = {k: v for k, v in found.items() if k in ("http", "https", "all")}
        with _proxy_lock:
            _proxy_cache[key] = found
    return found


def env_ca_bundle() -> Optional[str]:
    """What requests would have taken from the environment with trust_env on."""
    import os

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


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
