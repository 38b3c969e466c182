"""A scripted stand-in for the Anthropic Messages API, on 127.0.0.1.

The Claude Agent SDK drives the Claude Code CLI, which calls
``POST /v1/messages`` at ``ANTHROPIC_BASE_URL``. This server answers those
calls from a script, so an agent runs offline and deterministically: each
conversation's first turn asks for the next scripted tool call (a
``tool_use`` block), and a turn that carries a ``tool_result`` gets a short
text answer quoting it. It is not a model; it knows nothing but its script.
Every request it receives is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeAnthropic"]

_NOT_FOUND = b'{"type":"error","error":{"type":"not_found_error","message":"offline fake"}}'


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _last_user_content(body: dict[str, Any]) -> list[dict[str, Any]]:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return [{"type": "text", "text": content}]
            return [c for c in content or [] if isinstance(c, dict)]
    return []


class FakeAnthropic:
    """``with FakeAnthropic([(tool, input), ...]) as api:`` then ``api.url``.

    Each user prompt that is not a tool result gets the next scripted tool
    call. Side requests the CLI makes (titles, token counts, other models)
    get a plain text answer.
    """

    def __init__(
        self, calls: list[tuple[str, dict[str, Any]]], *, model: str = "claude-sonnet-4-5"
    ):
        self.calls = list(calls)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.tool_results: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._n = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to put in ``ANTHROPIC_BASE_URL``."""
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- answers -----------------------------------------------------------

    def _reply(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """The content blocks and stop reason for one request."""
        with self._lock:
            self.requests.append(body)
            content = _last_user_content(body)
            results = [c for c in content if c.get("type") == "tool_result"]
            tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
            if results:
                self.tool_results.extend(results)
                text = "; ".join(_result_text(r) for r in results)
                return [{"type": "text", "text": f"Tool said: {text}"}], "end_turn"
            if not tools or not self.calls:
                # A side request (a title, a summary) or nothing left to do.
                return [{"type": "text", "text": "OK."}], "end_turn"
            name, tool_input = self.calls.pop(0)
            self._n += 1
            block = {
                "type": "tool_use",
                "id": f"toolu_{self._n:02d}_{name.replace('__', '_')}"[:60],
                "name": name,
                "input": tool_input,
            }
            return [block], "tool_use"

    def _stream(self, body: dict[str, Any]) -> Iterator[bytes]:
        blocks, stop = self._reply(body)
        message: dict[str, Any] = {
            "id": f"msg_{len(self.requests):04d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        }
        yield _sse("message_start", {"type": "message_start", "message": message})
        for i, block in enumerate(blocks):
            start: dict[str, Any]
            delta: dict[str, Any]
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                start = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            yield _sse(
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": start},
            )
            yield _sse(
                "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
            )
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": i})
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        blocks, stop = self._reply(body)
        return {
            "id": f"msg_{len(self.requests):04d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or self.model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(
                    404,
                    _NOT_FOUND,
                    "application/json",
                )

            def do_HEAD(self) -> None:
                self._send(200, b"", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                path = self.path.split("?")[0]
                if path.endswith("/count_tokens"):
                    self._send(200, b'{"input_tokens": 10}', "application/json")
                    return
                if not path.endswith("/v1/messages"):
                    self._send(
                        404,
                        _NOT_FOUND,
                        "application/json",
                    )
                    return
                if body.get("stream"):
                    data = b"".join(fake._stream(body))
                    self._send(200, data, "text/event-stream")
                else:
                    self._send(200, json.dumps(fake._message(body)).encode(), "application/json")

        return Handler


def _result_text(result: dict[str, Any]) -> str:
    content = result.get("content")
    if isinstance(content, list):
        return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return str(content or "")
