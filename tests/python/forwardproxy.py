"""A small forward HTTP proxy on 127.0.0.1, as HTTPS_PROXY / HTTP_PROXY point at in a company
network: `CONNECT host:port` opens a tunnel (HTTPS, the proxy sees no plaintext), an
absolute-URI request (`GET http://host:port/path`) is forwarded (plain HTTP). Every target is
logged; only loopback targets are served, so a test can never reach out through it.

    with ForwardProxy() as proxy:
        env["HTTPS_PROXY"] = proxy.url
        ...
        assert ("CONNECT", "127.0.0.1:5443") in proxy.seen
"""

import socket
import threading
from socketserver import StreamRequestHandler, ThreadingTCPServer
from typing import List, Tuple
from urllib.parse import urlsplit

_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}


class ForwardProxy:
    def __init__(self):
        self.seen: List[Tuple[str, str]] = []     # (method, host:port) of every request
        self.proxy_auth: List[str] = []           # every Proxy-Authorization value received
        self._lock = threading.Lock()
        proxy = self

        class Handler(StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline(65536).decode("latin-1").strip()
                if not line:
                    return
                method, target, _version = (line.split(" ") + ["", ""])[:3]
                headers = []
                while True:
                    header = self.rfile.readline(65536)
                    if header in (b"\r\n", b"\n", b""):
                        break
                    headers.append(header.decode("latin-1"))
                if method == "CONNECT":
                    host_port, path = target, None
                else:
                    parts = urlsplit(target)
                    host_port = parts.netloc
                    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                with proxy._lock:
                    proxy.seen.append((method, host_port))
                    proxy.proxy_auth += [h.split(":", 1)[1].strip() for h in headers
                                         if h.lower().startswith("proxy-authorization:")]
                host, _, port = host_port.rpartition(":")
                if host not in _LOOPBACK:
                    self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                try:
                    upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
                except OSError:
                    self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                with upstream:
                    if method == "CONNECT":
                        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    else:
                        kept = [h for h in headers
                                if h.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP]
                        head = f"{method} {path} HTTP/1.1\r\n" + "".join(kept) + \
                            "Connection: close\r\n\r\n"
                        upstream.sendall(head.encode("latin-1"))
                    self.wfile.flush()
                    _pipe(self.connection, self.rfile, upstream)

        self._server = ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def targets(self, method: str = None) -> List[str]:
        with self._lock:
            return [t for m, t in self.seen if method is None or m == method]

    def start(self) -> "ForwardProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "ForwardProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _pipe(client: socket.socket, client_reader, upstream: socket.socket) -> None:
    """Copy both ways until either side closes. Bytes the client already sent past the
    request head sit in client_reader's buffer, so that side reads through it."""
    def upstream_to_client():
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    back = threading.Thread(target=upstream_to_client, daemon=True)
    back.start()
    try:
        while True:
            data = client_reader.read1(65536)
            if not data:
                break
            upstream.sendall(data)
    except OSError:
        pass
    finally:
        try:
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    back.join(timeout=30)
