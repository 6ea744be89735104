"""The ASGI shim of the routes adapters declare: plain ASGI in, `HttpRequest` out, and back.

A platform's events arrive here, on the ack path of every chat command (POST /slack/events,
the WeCom callback). Starlette's stack around a route (error and exception middleware, the
router's regex matching, a `Request` object, `Response` header building) cost more CPU than
the shim itself (docs/PERFORMANCE.md, chat_http), so `PlatformRoutes` answers an exact path
and method of an adapter's route straight from the ASGI scope and hands everything else
(other methods, HEAD, a trailing slash, the API, /healthz…) to the Starlette app unchanged,
where the same endpoint is mounted too: both paths answer alike. An exception still reaches
uvicorn, which answers 500 and logs it, as Starlette's `ServerErrorMiddleware` did.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.base import HttpRequest, HttpRoute
from bot.config import MAX_BODY_BYTES
from bot.http_body import BodyNotRead, BodyTooLarge, read_body

_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_NO_BODY_STATUSES = frozenset({204, 304})
"""No Content-Length on these (RFC 9110 §8.6), as Starlette's `Response`."""


class PlatformEndpoint:
    """One adapter route as an ASGI app; the body bounded before the adapter verifies or
    parses anything (413 over `[http] max_body_bytes`, 408/400 when it never arrives whole)."""

    def __init__(self, route: HttpRoute, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.route = route
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # ASGI header names are lower case bytes, values latin-1 (the ASGI spec, "HTTP"); a
        # repeated header keeps its last value, as Starlette's `Headers` mapping did.
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        path: str = scope["path"]
        try:
            body = await read_body(
                receive, headers.get("content-length", ""), self.max_body_bytes, path
            )
        except BodyTooLarge as exc:
            return await _answer(send, 413, str(exc).encode(), [_TEXT])
        except BodyNotRead as exc:
            return await _answer(send, exc.status, str(exc).encode(), [_TEXT])
        query: bytes = scope["query_string"]
        request = HttpRequest(
            method=scope["method"],
            path=path,
            query=dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)) if query else {},
            headers=headers,
            body=body,
        )
        answer = await self.route.handler(request)
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in answer.headers.items()
        ]
        await _answer(send, answer.status, answer.body, raw)


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    sized = any(name == b"content-length" for name, _ in headers)
    if status >= 200 and status not in _NO_BODY_STATUSES and not sized:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def asgi_route(route: HttpRoute, max_body_bytes: int = MAX_BODY_BYTES) -> Route:
    """An adapter's route as Starlette mounts it (405 for another method, HEAD for GET)."""
    return Route(route.path, PlatformEndpoint(route, max_body_bytes), methods=list(route.methods))


class PlatformRoutes:
    """The app uvicorn serves: an adapter route's exact path and method go straight to its
    endpoint; every other request to `fallback` (the Starlette app, which mounts the same
    endpoints)."""

    def __init__(
        self, routes: Sequence[HttpRoute], fallback: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.fallback = fallback
        self.endpoints = {
            (route.path, method.upper()): PlatformEndpoint(route, max_body_bytes)
            for route in routes
            for method in route.methods
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.endpoints.get((scope["path"], scope["method"]))
            if endpoint is not None:
                return await endpoint(scope, receive, send)
        await self.fallback(scope, receive, send)


def platform_app(
    routes: Sequence[HttpRoute],
    beside: Sequence[BaseRoute] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ASGIApp:
    """What `coverwatch run` serves: adapters' `routes` (straight, and in Starlette for every
    other method) and, `beside` them, Starlette's routes (/healthz, the API…)."""
    mounted = [asgi_route(route, max_body_bytes) for route in routes]
    return PlatformRoutes(routes, Starlette(routes=[*beside, *mounted]), max_body_bytes)
