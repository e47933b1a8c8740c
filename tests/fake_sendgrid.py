"""A fake SendGrid v3 HTTP server on 127.0.0.1 for testing the SendGrid transport.

It records every request (method, path, headers, JSON body) and answers from a scripted list
of responses, then with ``202 Accepted`` (SendGrid's answer to a good ``mail/send``) once the
script runs out::

    server = FakeSendGrid()
    server.script(500, 429, FakeSendGrid.error(400, "The from address does not match ..."))
    app = app_factory(MAIL_TRANSPORT="sendgrid", SENDGRID_API_KEY="SG.test",
                      SENDGRID_HOST=server.url)
    ...
    server.requests[0].json["subject"]
    server.close()
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status, a JSON body (or none) and an optional delay."""

    status: int = 202
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    json: Any
    status: int  # what the fake answered


class FakeSendGrid:
    """A threaded HTTP server answering like SendGrid's v3 API."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                reply = fake._next_reply()
                with fake._lock:
                    fake.requests.append(
                        Recorded(
                            method=self.command,
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            json=body,
                            status=reply.status,
                        )
                    )
                if reply.delay_seconds and fake._closing.wait(reply.delay_seconds):
                    return  # shutting down: drop the connection unanswered
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.close_connection = True
                try:
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a worker killed mid-request)

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-sendgrid", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The value for ``SENDGRID_HOST``."""
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def error(status: int, message: str, field_name: str | None = None) -> Reply:
        """A SendGrid-style error answer: ``{"errors": [{"message", "field", "help"}]}``."""
        return Reply(status, {"errors": [{"message": message, "field": field_name, "help": None}]})

    def script(self, *replies: int | Reply) -> None:
        """Queue answers for the next requests: a status code or a :class:`Reply`."""
        with self._lock:
            for reply in replies:
                self._script.append(reply if isinstance(reply, Reply) else Reply(reply))

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply(202)

    def sends(self, status: int | None = None) -> list[Recorded]:
        """Recorded ``POST /v3/mail/send`` requests, optionally only those answered ``status``."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.method == "POST"
                and request.path == "/v3/mail/send"
                and (status is None or request.status == status)
            ]

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
