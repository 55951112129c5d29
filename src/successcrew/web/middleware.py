"""ASGI middleware every request passes: a body-size limit (413 before the body is read, or as
soon as a streamed body passes it) and an access log that never carries a secret.

Survey and unsubscribe links carry their token in the path and Segment its write key in a
header, so the access log writes the route's template (``/survey/{token}``), never the path as
requested, no query string and no headers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("successcrew.web.access")


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """Refuse bodies larger than ``limit_for(path)`` bytes with 413 (or the status it names).

    A declared Content-Length over the limit is refused before reading; a body streamed without
    one is counted and refused when it passes the limit (the app then sees a disconnect).
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], tuple[int, int, str]]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, status, message = self.limit_for(scope["path"])
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        try:
            too_big = declared is not None and int(declared) > limit
        except ValueError:
            await _answer(send, 400, {"error": "invalid Content-Length"})
            return
        if too_big:
            await _answer(send, status, {"error": message, "limit_bytes": limit})
            return
        seen = 0
        answered = False

        async def counted() -> Message:
            nonlocal seen, answered
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit and not answered:
                    answered = True
                    await _answer(send, status, {"error": message, "limit_bytes": limit})
                    return {"type": "http.disconnect"}
            return event

        async def guarded(event: Message) -> None:
            if not answered:
                await send(event)

        await self.app(scope, counted, guarded)


class RefuseNul:
    """Refuse (400) a path, query string or form body that carries a NUL character.

    No field of ours may hold one, and PostgreSQL refuses text with NUL outright, so the same
    request would be stored on SQLite and fail with a database error on PostgreSQL. JSON bodies
    are checked where they are parsed (``web.params.load_json``).
    """

    FORMS = (b"application/x-www-form-urlencoded", b"multipart/form-data")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").lower()
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await _answer(send, 400, {"error": "the address contains a NUL character"})
            return
        kind = next((v for k, v in scope["headers"] if k == b"content-type"), b"").lower()
        if not kind.startswith(self.FORMS):
            await self.app(scope, receive, send)
            return
        tail = b""
        answered = False

        async def checked() -> Message:
            nonlocal tail, answered
            event = await receive()
            if event["type"] == "http.request" and not answered:
                # Keep the last two bytes: a "%00" may be split across two chunks.
                chunk = tail + event.get("body", b"")
                if b"\x00" in chunk or b"%00" in chunk.lower():
                    answered = True
                    await _answer(send, 400, {"error": "the form contains a NUL character"})
                    return {"type": "http.disconnect"}
                tail = chunk[-2:]
            return event

        async def guarded(event: Message) -> None:
            if not answered:
                await send(event)

        await self.app(scope, checked, guarded)


class AccessLog:
    """One line per request: method, route template, status, milliseconds, client address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def watched(event: Message) -> None:
            nonlocal status
            if event["type"] == "http.response.start":
                status = int(event["status"])
            await send(event)

        try:
            await self.app(scope, receive, watched)
        finally:
            client = scope.get("client") or ("-", 0)
            access_log.info(
                "%s %s %d %.1fms %s",
                scope.get("method", "-"),
                route_template(scope),
                status or 500,
                (time.perf_counter() - started) * 1000,
                client[0],
            )


def route_template(scope: Scope) -> str:
    """``/survey/{token}`` for ``/survey/eyJ...``: the path with every path parameter named,
    never valued; an unmatched path is logged as ``(unmatched)`` (it may hold anything)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "(unmatched)"


class StrictTransport:
    """``Strict-Transport-Security`` on every answer to a request that came over HTTPS: directly,
    or through a trusted proxy whose X-Forwarded-Proto said so (``ProxiedPeer`` runs first). Over
    plain HTTP the header means nothing to a browser and is left out."""

    def __init__(self, app: ASGIApp, max_age: int) -> None:
        self.app = app
        self.value = f"max-age={max_age}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def with_header(event: Message) -> None:
            if event["type"] == "http.response.start":
                headers = [
                    h for h in event.get("headers", []) if h[0] != b"strict-transport-security"
                ]
                event["headers"] = [*headers, (b"strict-transport-security", self.value)]
            await send(event)

        await self.app(scope, receive, with_header)


class ProxiedPeer:
    """Keep the connection's peer address (``scope["successcrew.peer"]``), then apply
    X-Forwarded-For / -Proto from ``trusted`` proxies as uvicorn would.

    The dashboard believes a sign-in header only from the configured auth proxy, which it
    recognises by the peer address; after X-Forwarded-For that address is gone.
    """

    def __init__(self, app: ASGIApp, trusted: str) -> None:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        # uvicorn spells ASGI's scope and messages as its own TypedDicts; at run time they are
        # the same plain dicts this module passes.
        proxy = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=trusted)
        self.inner = cast(ASGIApp, proxy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["successcrew.peer"] = scope.get("client")
        await self.inner(scope, receive, send)
