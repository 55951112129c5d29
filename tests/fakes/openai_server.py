"""A local OpenAI-compatible server for offline tests (stdlib only).

It answers ``POST /v1/chat/completions`` as the OpenAI API documents: a ``chat.completion``
with ``choices[0].message`` (content and/or ``tool_calls``), ``finish_reason`` and ``usage``;
with ``"stream": true`` server-sent events (content and tool-call deltas, the finish chunk, a
usage chunk when ``stream_options.include_usage``, then ``[DONE]``). Each request takes the next
scripted reply (a dict from ``reply()`` or a callable of the request body); when the script is
out the server answers 500, so a test fails instead of hanging. Usage defaults to about a token
per four characters of the prompt, like a real tokenizer would count roughly.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any]


def reply(
    content: str | dict[str, Any] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
) -> Reply:
    """A scripted answer; a dict ``content`` is sent as its JSON text."""
    text = json.dumps(content) if isinstance(content, dict) else content
    return {
        "content": text,
        "tool_calls": tool_calls,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "finish_reason": "tool_calls" if tool_calls else "stop",
    }


def tool_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    """An OpenAI tool call."""
    return {
        "id": call_id or f"call_{uuid.uuid4().hex[:12]}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def prompt_text(body: dict[str, Any]) -> str:
    """Everything the request showed the model (messages, tools, schema)."""
    parts = [str(m.get("content") or "") for m in body.get("messages", [])]
    parts += [json.dumps(body.get("tools") or []), json.dumps(body.get("response_format") or {})]
    return "\n".join(parts)


def _usage(body: dict[str, Any], r: Reply) -> dict[str, int]:
    prompt = r["prompt_tokens"] if r["prompt_tokens"] is not None else len(prompt_text(body)) // 4
    answer = r["content"] or json.dumps(r["tool_calls"] or [])
    completion = (
        r["completion_tokens"] if r["completion_tokens"] is not None else max(1, len(answer) // 4)
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(body: dict[str, Any], r: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": r["content"]}
    if r.get("tool_calls"):
        message["tool_calls"] = r["tool_calls"]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "stand-in"),
        "choices": [
            {"index": 0, "message": message, "finish_reason": r["finish_reason"], "logprobs": None}
        ],
        "usage": _usage(body, r),
        "system_fingerprint": "fp_standin",
    }


def _chunks(body: dict[str, Any], r: Reply) -> list[dict[str, Any]]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "stand-in"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    content = r.get("content") or ""
    out += [chunk({"content": content[i : i + 16]}) for i in range(0, len(content), 16)]
    for idx, tc in enumerate(r.get("tool_calls") or []):
        args = tc["function"]["arguments"]
        head = {"index": idx, "id": tc["id"], "type": "function"}
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {**head, "function": {"name": tc["function"]["name"], "arguments": ""}}
                    ]
                }
            )
        )
        out += [
            chunk({"tool_calls": [{"index": idx, "function": {"arguments": args[i : i + 16]}}]})
            for i in range(0, len(args), 16)
        ]
    out.append(chunk({}, r["finish_reason"]))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append({**base, "choices": [], "usage": _usage(body, r)})
    return out


class OpenAIStandIn:
    """The server; ``requests`` holds every request body, ``base_url`` the ``/v1`` root."""

    def __init__(
        self, script: list[Reply | Callable[[dict[str, Any]], Reply]] | None = None
    ) -> None:
        self.script = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> OpenAIStandIn:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(
                        404,
                        {
                            "error": {
                                "message": f"no route {self.path}",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                    return
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    item = server.script.pop(0) if server.script else None
                if item is None:
                    self._json(
                        500,
                        {
                            "error": {
                                "message": "stand-in: script exhausted",
                                "type": "server_error",
                            }
                        },
                    )
                    return
                r = item(body) if callable(item) else item
                if not body.get("stream"):
                    self._json(200, _completion(body, r))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for c in [
                    *(f"data: {json.dumps(c)}\n\n" for c in _chunks(body, r)),
                    "data: [DONE]\n\n",
                ]:
                    data = c.encode()
                    self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
