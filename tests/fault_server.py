"""An OpenAI-compatible /v1/chat/completions server on 127.0.0.1 that misbehaves on cue.

Requests are identified by the content of their first user message. A script maps that content to
the actions for successive hits; once a list is used up (or for unscripted content) the server
answers normally with a deterministic reply, ``"reply to: <content>"``, and word-count usage.

Actions: ``ok``, ``429`` (with Retry-After), ``500``, ``400``, ``malformed`` (HTTP 200 with a broken
JSON body), ``html`` (HTTP 200 with a text/html error page), ``hang`` (say nothing for ``hang_s``),
``say:<text>`` (answer with ``<text>``) and ``echo-auth:<n>`` (HTTP 400 whose message is ``n`` dots, then
the request's Authorization header, then more dots: a server that echoes the key in a long error).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultServer:
    def __init__(self, script: dict[str, list[str]] | None = None, hang_s: float = 3.0, retry_after: str = "1") -> None:
        self.hang_s = hang_s
        self.retry_after = retry_after
        self.hits: Counter[str] = Counter()
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, marker) per request
        self.bodies: list[dict[str, Any]] = []
        self.auth_headers: set[str] = set()
        self._lock = threading.Lock()
        self.set_script(script or {})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def set_script(self, script: dict[str, list[str]]) -> None:
        with self._lock:
            self._script = {marker: list(actions) for marker, actions in script.items()}

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_action(self, body: dict[str, Any]) -> tuple[str, str]:
        marker = next(m["content"] for m in body["messages"] if m["role"] == "user")
        with self._lock:
            self.hits[marker] += 1
            self.arrivals.append((time.monotonic(), marker))
            self.bodies.append(body)
            queue = self._script.get(marker)
            return marker, queue.pop(0) if queue else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.auth_headers.add(self.headers.get("Authorization", ""))
                marker, action = server._next_action(body)
                if action.startswith("echo-auth:"):
                    echoed = "." * int(action.split(":")[1]) + self.headers.get("Authorization", "") + "." * 300
                    self._send(400, {"error": {"message": echoed}})
                elif action == "429":
                    self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}},
                               {"Retry-After": server.retry_after})
                elif action in ("500", "400"):
                    self._send(int(action), {"error": {"message": f"scripted {action}"}})
                elif action == "malformed":
                    self._send_raw(200, b'{"id": "x", "choices": [{"message": ', "application/json")
                elif action == "html":
                    self._send_raw(200, b"<html><body>upstream hiccup</body></html>", "text/html")
                elif action == "hang":
                    time.sleep(server.hang_s)
                    self._send(200, server._completion(body, marker, "too late"))
                elif action.startswith("say:"):
                    self._send(200, server._completion(body, marker, action[4:]))
                else:
                    self._send(200, server._completion(body, marker, f"reply to: {marker}"))

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

            def _send_raw(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) before the answer came

        return Handler

    @staticmethod
    def _completion(body: dict[str, Any], marker: str, text: str) -> dict[str, Any]:
        prompt_words = sum(len(m["content"].split()) for m in body["messages"])
        return {
            "id": f"chatcmpl-{abs(hash(marker)) % 10**8}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(text.split()),
                      "total_tokens": prompt_words + len(text.split())},
        }
