"""The API's endpoints, declared once: the Starlette routes and the OpenAPI document are both
built from `ENDPOINTS`, so a route cannot exist without being documented."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.api import documents, reads
from bot.api.auth import authorize
from bot.api.models import (
    BalanceItem,
    EmployeeItem,
    PaymentItem,
    WriteResult,
    batch_of,
)
from bot.api.problems import ApiProblem
from bot.api.service import ApiService
from bot.api.writes import (
    EMPLOYEE_UPDATE,
    Items,
    employee_subjects,
    no_subject,
    parse_items,
    put_employee,
    write,
)
from storage.api_tokens import Credential
from storage.imports import import_balances, import_employees, import_payments

log = logging.getLogger(__name__)
Handler = Callable[[ApiService, Request, Credential], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """Under /api/v1, with `{name}` path parameters as OpenAPI writes them."""
    summary: str
    scope: str
    handler: Handler
    body: TypeAdapter[Any] | None = None
    answer: type[BaseModel] | None = None
    query: tuple[tuple[str, str], ...] = ()
    """Required query parameters: (name, description)."""


def _batch(adapter: TypeAdapter[Any], importer: Callable[..., Any], audit: Any) -> Handler:
    def items_of(body: bytes) -> Items:
        return parse_items(adapter, body)

    async def handler(api: ApiService, request: Request, credential: Credential) -> Response:
        return await write(
            api, request, credential, importer=importer, items_of=items_of, subjects=audit
        )

    return handler


PAYMENTS, BALANCES, EMPLOYEES = batch_of(PaymentItem), batch_of(BalanceItem), batch_of(EmployeeItem)
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST", "/payments", "Record payments received (all or nothing)", "payments:write",
        _batch(PAYMENTS, import_payments, no_subject), PAYMENTS, WriteResult,
    ),
    Endpoint(
        "POST", "/balances", "Record account balance snapshots (all or nothing)", "balances:write",
        _batch(BALANCES, import_balances, no_subject), BALANCES, WriteResult,
    ),
    Endpoint(
        "POST", "/employees", "Create or update employees; fields left out are unchanged",
        "employees:write",
        _batch(EMPLOYEES, import_employees, employee_subjects),
        EMPLOYEES, WriteResult,
    ),
    Endpoint(
        "PUT", "/employees/{employee_id}", "Create or update one employee", "employees:write",
        put_employee, EMPLOYEE_UPDATE, WriteResult,
    ),
    Endpoint(
        "GET", "/dues", "The stored dues of a period (the `dues --json` document)", "read",
        reads.dues, answer=documents.DuesDocument, query=(("period", "YYYY-MM"),),
    ),
    Endpoint(
        "GET", "/alerts", "Open and acknowledged alerts (the `alerts --json` document)", "read",
        reads.alerts, answer=documents.AlertsDocument,
    ),
    Endpoint(
        "GET", "/employees/{employee_id}/coverage", "One employee's cover status", "read",
        reads.coverage, answer=documents.CoverageDocument,
    ),
)  # fmt: skip


def route(api: ApiService, endpoint: Endpoint) -> Route:
    """A Starlette route whose every refusal has the API's error shape."""

    async def serve(request: Request) -> Response:
        try:
            credential = await authorize(request, api.context.engine, endpoint.scope, api.rates)
            return await endpoint.handler(api, request, credential)
        except ApiProblem as problem:
            return problem.response()
        except OperationalError as exc:  # down, or (SQLite) locked by a concurrent writer
            log.warning("API %s %s: %s", endpoint.method, endpoint.path, type(exc.orig).__name__)
            message = "database busy or unreachable; retry"
            return ApiProblem.of(503, message, headers={"Retry-After": "1"}).response()

    return Route(endpoint.path, serve, methods=[endpoint.method])
