"""A small HTTP reverse proxy for fault injection in tests.

Sits between a client and one upstream server on loopback, forwards every request, logs it,
and on request fails (HTTP 503 or any status) or drops (closes the connection without an
answer) chosen requests: the Nth request, or the Nth request whose method and path match
regular expressions.

    proxy = FaultProxy("127.0.0.1:5000").start()
    proxy.fail(method="GET", path=r"/manifests/", times=1)        # first matching GET -> 503
    proxy.fail(method="PUT", path=r"/manifests/v1$", applied=True)  # done upstream, then 503
    proxy.drop(method="PUT", path=r"/manifests/v1$", nth=2)       # second such PUT -> dropped
    proxy.rewrite(r"from=[^&]*", "from=elsewhere", method="POST")   # forwarded, altered
    store.get_manifest(parse(f"{proxy.host}/app:v1"))           # talks to the proxy
    assert [e.action for e in proxy.requests(method="GET")] == ["fail", "forward"]
    proxy.stop()

It also counts TCP connections: `proxy.connections` were accepted, and each logged request says
which one carried it (`Entry.connection`), so a test can check that a client reuses them.

The `Host` header is passed through unchanged, so registries that build absolute `Location`
URLs from it point the client back at the proxy.
"""

import http.client
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade", "proxy-connection"}


@dataclass
class Rule:
    """Fire `action` on matching requests number nth, nth+1, ... (times of them; None = all).

    action: "fail" answers `status` with a small distribution-spec error body (with `applied`,
    after forwarding the request: the change happened, the client is told it failed); "drop"
    closes the connection after reading the request, without answering; "rewrite" forwards the
    request with `re.sub(*sub, path)` applied to its path and query."""

    action: str
    method: Optional[str] = None      # regex, full match, case-insensitive
    path: Optional[str] = None        # regex, searched in path + query
    nth: int = 1
    times: Optional[int] = 1
    status: int = 503
    sub: Optional[tuple] = None       # (pattern, replacement) for "rewrite"
    applied: bool = False             # "fail" after forwarding
    seen: int = 0                     # matching requests so far
    fired: int = 0                    # requests this rule failed or dropped

    def __post_init__(self):
        if self.action not in ("fail", "drop", "rewrite"):
            raise ValueError(f"unknown action {self.action!r}: use 'fail', 'drop' or 'rewrite'")
        if self.action == "rewrite" and not self.sub:
            raise ValueError("a rewrite rule needs sub=(pattern, replacement)")
        if self.nth < 1:
            raise ValueError("nth counts from 1")

    def matches(self, method: str, path: str) -> bool:
        if self.method and not re.fullmatch(self.method, method, re.IGNORECASE):
            return False
        if self.path and not re.search(self.path, path):
            return False
        return True

    def take(self) -> bool:
        """Count one matching request; True when this one is to be faulted."""
        self.seen += 1
        if self.seen < self.nth:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


@dataclass
class Entry:
    """One request as the proxy saw it."""

    method: str
    path: str
    action: str                       # "forward", "fail", "drop" or "rewrite"
    status: Optional[int] = None      # what the client got (None when dropped)
    request_bytes: int = 0            # body bytes the client sent
    response_bytes: int = 0
    headers: dict = field(default_factory=dict)
    connection: int = 0               # which accepted connection carried it (from 1)


class FaultProxy:
    def __init__(self, upstream: str, listen_host: str = "127.0.0.1", port: int = 0,
                 timeout: float = 60.0):
        self.upstream = upstream
        self.timeout = timeout
        self.rules: List[Rule] = []
        self.log: List[Entry] = []
        self.connections = 0              # TCP connections accepted so far (never reset)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((listen_host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"faultproxy->{self.upstream}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """host:port to put in image references instead of the upstream's."""
        addr, port = self._server.server_address[:2]
        return f"{addr}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- rules --------------------------------------------------------------------------------
    def add_rule(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(self, method: Optional[str] = None, path: Optional[str] = None, nth: int = 1,
             times: Optional[int] = 1, status: int = 503, applied: bool = False) -> Rule:
        return self.add_rule(Rule("fail", method, path, nth, times, status, applied=applied))

    def drop(self, method: Optional[str] = None, path: Optional[str] = None, nth: int = 1,
             times: Optional[int] = 1) -> Rule:
        return self.add_rule(Rule("drop", method, path, nth, times))

    def rewrite(self, pattern: str, replacement: str, method: Optional[str] = None,
                path: Optional[str] = None, nth: int = 1, times: Optional[int] = 1) -> Rule:
        return self.add_rule(Rule("rewrite", method, path, nth, times, sub=(pattern, replacement)))

    def clear(self) -> None:
        """Forget rules and the request log."""
        with self._lock:
            self.rules.clear()
            self.log.clear()

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()

    def connections_used(self) -> int:
        """Connections that carried at least one HTTP request (a TLS probe of a plain-HTTP
        proxy is accepted, and carries none)."""
        with self._lock:
            return len({e.connection for e in self.log})

    def requests(self, method: Optional[str] = None, path: Optional[str] = None) -> List[Entry]:
        """Logged requests, optionally filtered like rules are."""
        probe = Rule("fail", method, path)
        with self._lock:
            return [e for e in self.log if probe.matches(e.method, e.path)]

    def uploaded_bytes(self) -> int:
        """Body bytes clients sent to blob upload URLs (PATCH/PUT/POST under /blobs/uploads/)."""
        return sum(e.request_bytes for e in self.requests(path=r"/blobs/uploads/"))

    def _decide(self, method: str, path: str) -> Optional[Rule]:
        with self._lock:
            chosen = None
            for rule in self.rules:
                if rule.matches(method, path) and rule.take() and chosen is None:
                    chosen = rule
            return chosen

    def _record(self, entry: Entry) -> None:
        with self._lock:
            self.log.append(entry)

    def _accepted(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections


def _make_handler(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream_conn: Optional[http.client.HTTPConnection] = None

        def log_message(self, fmt, *args):  # keep test output quiet
            pass

        def setup(self):
            super().setup()
            self.connection_number = proxy._accepted()

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    line = self.rfile.readline()
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self):
            method = self.command
            body = self._read_body()
            entry = Entry(method, self.path, "forward", request_bytes=len(body),
                          headers={k: v for k, v in self.headers.items()
                                   if k.lower() != "authorization"},
                          connection=self.connection_number)
            rule = proxy._decide(method, self.path)
            if rule is not None and rule.action == "drop":
                entry.action = "drop"
                proxy._record(entry)
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
                return
            if rule is not None and rule.action == "rewrite":
                entry.action = "rewrite"
                self.path = re.sub(rule.sub[0], rule.sub[1], self.path)
                rule = None
            if rule is not None and rule.applied:
                try:
                    self._forward(method, body)
                except (OSError, http.client.HTTPException):
                    self._close_upstream()
            if rule is not None:
                payload = (b'{"errors":[{"code":"UNAVAILABLE","message":"injected by '
                           b'faultproxy"}]}')
                entry.action, entry.status = "fail", rule.status
                proxy._record(entry)
                self.send_response(rule.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(payload)
                return
            try:
                status, reason, headers, data = self._forward(method, body)
            except (OSError, http.client.HTTPException) as exc:
                status, reason, headers = 502, "Bad Gateway", []
                data = f"faultproxy: upstream {proxy.upstream} failed: {exc}".encode()
                self._close_upstream()
            entry.status, entry.response_bytes = status, len(data)
            proxy._record(entry)
            self.send_response(status, reason)
            have_length = False
            for key, value in headers:
                low = key.lower()
                if low in _HOP_BY_HOP:
                    continue
                if low == "content-length":
                    if method != "HEAD":
                        continue
                    have_length = True
                self.send_header(key, value)
            if method != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            elif not have_length:
                self.send_header("Content-Length", "0")
            self.end_headers()
            if method != "HEAD" and data:
                self.wfile.write(data)

        def _forward(self, method: str, body: bytes):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers.pop("Content-Length", None)
            if body or method in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):  # an idle upstream connection may have been closed
                if self.upstream_conn is None:
                    self.upstream_conn = http.client.HTTPConnection(proxy.upstream,
                                                                    timeout=proxy.timeout)
                try:
                    self.upstream_conn.request(method, self.path, body=body or None,
                                               headers=headers)
                    resp = self.upstream_conn.getresponse()
                    data = resp.read()
                    if resp.will_close:
                        self._close_upstream()
                    return resp.status, resp.reason, resp.getheaders(), data
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    self._close_upstream()
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        def _close_upstream(self):
            if self.upstream_conn is not None:
                self.upstream_conn.close()
                self.upstream_conn = None

        def finish(self):
            try:
                super().finish()
            finally:
                self._close_upstream()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    return Handler
