"""A real HTTP server on 127.0.0.1 for tests: fixed routes, every request recorded."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable


@dataclass
class Route:
    status: int = 200
    body: bytes | Path | Callable[[dict], bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0  # a Path body is sent 1 MB at a time, with this pause between chunks
    cut_after: int | None = None  # a Path body stops after this many bytes (Content-Length says the whole file)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers), body)
                server.requests.append(request)
                answer = server.answer(request)
                if answer is not None:  # a stand-in that checks requests answers them itself
                    status, headers, payload = answer
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                route = server.routes.get((self.command, self.path.split("?")[0])) or Route(404, b"not found")
                if route.delay:
                    import time

                    time.sleep(route.delay)
                payload = route.body(request.__dict__) if callable(route.body) else route.body
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if isinstance(payload, Path):
                    self.send_header("Content-Length", str(payload.stat().st_size))
                    self.end_headers()
                    sent = 0
                    with payload.open("rb") as fh:
                        while chunk := fh.read(1 << 20):
                            if route.cut_after is not None and sent + len(chunk) > route.cut_after:
                                self.wfile.write(chunk[:route.cut_after - sent])
                                self.wfile.flush()
                                self.close_connection = True
                                return
                            self.wfile.write(chunk)
                            sent += len(chunk)
                            if route.chunk_delay:
                                import time

                                time.sleep(route.chunk_delay)
                else:
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, request: Request) -> tuple[int, dict[str, str], bytes] | None:
        """(status, headers, body) for ``request``, or None to answer from ``routes``. Stand-ins override it."""
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def route(self, method: str, path: str, **kwargs) -> None:
        self.routes[(method, path)] = Route(**kwargs)

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
