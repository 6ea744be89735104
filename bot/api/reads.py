"""`GET /dues`, `GET /alerts`, `GET /employees/{id}/coverage`: the CLI's documents over HTTP,
built by `bot.json_output` (one spelling) from what is stored; a GET never computes or writes,
save the access log's entries for the people it shows (storage.audit.VIEW)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.problems import ApiProblem
from bot.api.service import ApiService
from bot.json_output import alerts_json, coverage_json, dues_json
from core.periods import Period
from storage.accounts import account_policies
from storage.alerts import visible_alerts
from storage.api_tokens import Credential
from storage.audit import record_views
from storage.coverage import employee_cover
from storage.db import session_scope
from storage.employees import get_employee
from storage.ledger import period_dues


def _views(
    api: ApiService, session: Session, credential: Credential, subjects: list[Any], what: str
) -> None:
    """The people a document shows, as views by the token's name."""
    record_views(
        session,
        at=api.context.now(),
        actor=credential.name,
        subjects=subjects,
        detail=what,
        via="api",
    )


async def dues(api: ApiService, request: Request, credential: Credential) -> JSONResponse:
    raw = request.query_params.get("period")
    if not raw:
        raise ApiProblem.of(422, "missing required value (YYYY-MM)", field="period")
    try:
        period = Period.parse(raw)
    except ValueError:
        raise ApiProblem.of(422, f"bad period {raw!r} (expected YYYY-MM)", field="period") from None

    def load() -> dict[str, Any] | None:
        with session_scope(api.context.engine) as session:
            if not period_dues(session, period):
                return None
            document = dues_json(session, period, account_policies(session, api.context.policies))
            employees = [row["employee_id"] for row in document["employees"]]
            _views(api, session, credential, employees, f"GET dues {period}")
            return document

    document = await asyncio.to_thread(load)
    if document is None:
        raise ApiProblem.of(
            404, f"no dues computed for {period} (coverwatch dues --period {period})"
        )
    return JSONResponse(document)


async def alerts(api: ApiService, request: Request, credential: Credential) -> JSONResponse:

    def load() -> dict[str, Any]:
        with session_scope(api.context.engine) as session:
            accounts = account_policies(session, api.context.policies)
            document = alerts_json(
                session,
                api.context.today(),
                visible_alerts(session),
                accounts,
                now=api.context.now(),
            )
            employees = [alert["employee_id"] for alert in document["alerts"]]
            _views(api, session, credential, employees, "GET alerts")
            return document

    return JSONResponse(await asyncio.to_thread(load))


async def coverage(api: ApiService, request: Request, credential: Credential) -> JSONResponse:
    employee_id = request.path_params["employee_id"]

    def load() -> dict[str, Any] | None:
        with session_scope(api.context.engine) as session:
            employee = get_employee(session, employee_id)
            if employee is None:
                return None
            today = api.context.today()
            account = account_policies(session, api.context.policies)[employee.account_id]
            status = employee_cover(session, employee, account, today)
            _views(api, session, credential, [employee.employee_id], "GET coverage")
            return coverage_json(employee, status, today, account)

    document = await asyncio.to_thread(load)
    if document is None:
        raise ApiProblem.of(404, f"no employee {employee_id!r}", field="employee_id")
    return JSONResponse(document)
