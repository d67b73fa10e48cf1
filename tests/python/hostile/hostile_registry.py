"""A misbehaving registry on loopback: answers whatever a test tells it to, and records what it got.

    with HostileRegistry() as reg:                      # 127.0.0.1, a free port, one thread per request
        digest = reg.serve_image("app", "1.0.0")        # a small valid image (manifest + config)
        reg.route("HEAD", r"/v2/app/manifests/1\\.0\\.0$",
                  Answer(headers={"Docker-Content-Digest": "sha256:" + "a" * 64 + "$(touch PWNED)"}))
        ... run shipmark against reg.host ...
        assert not reg.seen(header="Authorization")

Knobs:
- `route(method, path_regex, answer)`: `answer` is an `Answer` or a callable `(Request) -> Answer`
  (for answers that depend on the request, e.g. endless `Link` pagination). The regex is searched
  in path + query; the newest matching route wins. Unrouted: `GET /v2/` answers 200 `{}`, the rest
  404 with a distribution-spec error body.
- `Answer(status, headers, body, length, chunk_delay, hang)`: header values go out as UTF-8;
  `body` is bytes or a callable returning an iterable of byte chunks, generated while sending
  (`zeros(2 << 30)` streams 2 GiB without allocating it); `length` is the Content-Length to send
  (default: len(body) for bytes, none for chunks: the body then ends when the connection closes);
  `chunk_delay` sleeps before each chunk (`drip(b"{...}", 5.0)` sends one byte every 5 s);
  `hang=True` reads the request and never answers.
- `HostileRegistry(silent=True)`: accepts connections and never reads or answers anything.
- `HostileRegistry(host="127.0.0.2")`: another loopback address, standing for "another host"
  (a token realm or redirect target that should receive no credentials).
- `requests` / `seen(method, path, header)`: every request received (method, path with query,
  headers), for asserting what a client sent where. TLS handshakes (shipmark's scheme probe)
  are not requests and are not recorded.
- `serve_image(repo, tag)` registers a tiny OCI image (GET/HEAD by tag and digest, its config
  blob, the tag list) and returns the manifest digest; `manifest(repo, tag)` gives its bytes.

Every answer closes its connection (HTTP/1.0), so a test's answers never bleed into each other.
Stop it with `stop()` (or the context manager): hanging answers end then too.
"""

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Iterable, List, Optional, Union

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"

Body = Union[bytes, Callable[[], Iterable[bytes]]]


@dataclass
class Answer:
    status: int = 200
    headers: Dict[str, str] = field(default_factory=dict)
    body: Body = b""
    length: Optional[int] = -1          # -1: len(body) for bytes, none for chunks
    chunk_delay: float = 0.0
    hang: bool = False


@dataclass
class Request:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes = b""


def zeros(size: int, chunk: int = 1 << 20) -> Callable[[], Iterable[bytes]]:
    """A body of `size` spaces (valid JSON whitespace), generated chunk by chunk."""
    def chunks():
        block = b" " * chunk
        left = size
        while left > 0:
            yield block[:min(chunk, left)]
            left -= chunk
    return chunks


def drip(data: bytes) -> Callable[[], Iterable[bytes]]:
    """The body one byte per chunk (with Answer.chunk_delay between them)."""
    return lambda: (data[i:i + 1] for i in range(len(data)))


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class HostileRegistry:
    def __init__(self, host: str = "127.0.0.1", silent: bool = False):
        self._routes: List[tuple] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._manifests: Dict[tuple, bytes] = {}
        self.requests: List[Request] = []
        self.silent = silent
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "HostileRegistry":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "HostileRegistry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def host(self) -> str:
        addr, port = self._server.server_address[:2]
        return f"{addr}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- what to answer ------------------------------------------------------------------------

    def route(self, method: str, path: str, answer: Union[Answer, Callable[[Request], Answer]]) -> None:
        with self._lock:
            self._routes.insert(0, (method.upper(), re.compile(path), answer))

    def serve_image(self, repo: str, tag: str) -> str:
        config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                          "layers": [], "annotations": {"tag": tag}}, sort_keys=True).encode()
        digest = sha256(raw)
        self._manifests[(repo, tag)] = raw
        headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}
        for reference in (re.escape(tag), digest):
            self.route("GET", rf"^/v2/{repo}/manifests/{reference}$", Answer(headers=headers, body=raw))
            self.route("HEAD", rf"^/v2/{repo}/manifests/{reference}$", Answer(headers=headers, length=len(raw)))
        self.route("GET", rf"^/v2/{repo}/blobs/{sha256(config)}$", Answer(body=config))
        tags = sorted({t for (r, t) in self._manifests if r == repo})
        self.route("GET", rf"^/v2/{repo}/tags/list", Answer(headers={"Content-Type": "application/json"},
                                                            body=json.dumps({"name": repo, "tags": tags}).encode()))
        return digest

    def manifest(self, repo: str, tag: str) -> bytes:
        return self._manifests[(repo, tag)]

    # -- what was asked ------------------------------------------------------------------------

    def seen(self, method: Optional[str] = None, path: Optional[str] = None,
             header: Optional[str] = None) -> List[Request]:
        """Requests received, filtered by method, a regex searched in the path, and a header present."""
        with self._lock:
            found = list(self.requests)
        return [r for r in found
                if (method is None or r.method == method.upper())
                and (path is None or re.search(path, r.path))
                and (header is None or header.lower() in {k.lower() for k in r.headers})]

    def _answer(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            routes = list(self._routes)
        for method, pattern, answer in routes:
            if method == request.method and pattern.search(request.path):
                return answer(request) if callable(answer) else answer
        if request.method in ("GET", "HEAD") and request.path == "/v2/":
            return Answer(headers={"Content-Type": "application/json"}, body=b"{}")
        return Answer(404, {"Content-Type": "application/json"},
                      b'{"errors":[{"code":"NAME_UNKNOWN","message":"not here"}]}')


def _handler(registry: HostileRegistry):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):   # keep test output quiet
            pass

        def handle(self):
            if registry.silent:
                registry._stopping.wait()
                return
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass   # the client hung up: exactly what a bounded client does

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = registry._answer(Request(self.command, self.path, dict(self.headers.items()), body))
            if answer.hang:
                registry._stopping.wait()
                return
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                # send_header writes latin-1: this way any text goes out as its UTF-8 bytes
                self.send_header(key, value.encode("utf-8").decode("latin-1"))
            data = answer.body
            length = answer.length
            if length == -1:
                length = len(data) if isinstance(data, bytes) else None
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD":
                return
            chunks = [data] if isinstance(data, bytes) else data()
            for chunk in chunks:
                if answer.chunk_delay:
                    if registry._stopping.wait(answer.chunk_delay):
                        return
                self.wfile.write(chunk)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    return Handler

