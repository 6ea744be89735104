"""The HTTP API for finance and HR systems, served under /api/v1 by `coverwatch run`
(ARCHITECTURE.md §3, docs/api.md). Neither a chat adapter nor a handler: a self-contained ASGI
app over the importers, the contract's JSON documents and the API tokens."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bot.api.openapi import OPENAPI_PATH, openapi_document
from bot.api.problems import ApiProblem
from bot.api.routes import ENDPOINTS, route
from bot.api.service import ApiService

PREFIX = "/api/v1"


def api_app(api: ApiService) -> Starlette:
    """The API as an ASGI app whose paths start at /payments (mount it under `PREFIX`)."""
    try:
        release = version("coverwatch")
    except PackageNotFoundError:  # running from a source tree that was never installed
        release = "0"
    document = openapi_document(release)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def refused(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        message = "no such endpoint or method; see /api/v1/openapi.json"
        return ApiProblem.of(status, message).response()

    routes = [route(api, endpoint) for endpoint in ENDPOINTS]
    routes.append(Route(OPENAPI_PATH, openapi, methods=["GET"]))
    return Starlette(routes=routes, exception_handlers={404: refused, 405: refused})


def api_mount(api: ApiService) -> Mount:
    return Mount(PREFIX, app=api_app(api))
