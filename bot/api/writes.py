"""`POST /payments`, `POST /balances`, `POST /employees`, `PUT /employees/{id}`.

A write is a file import whose rows came as JSON: the same importer, the same all-or-nothing
rule, the same transaction. With an `Idempotency-Key` the first answer is stored in that
transaction and a retry gets it back unchanged (`Idempotent-Replayed: true`): nothing is
written twice, even when the retry races the first request (the unique key decides).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.api.models import EmployeeUpdate, ErrorItem, WriteResult, validation_errors
from bot.api.problems import ApiProblem, read_body
from bot.api.service import ApiService
from storage.api_tokens import Credential
from storage.audit import record_audits
from storage.idempotency import MAX_KEY_LENGTH, request_hash, store_answer, stored_answer
from storage.imports import ImportResult, import_employees

Importer = Callable[..., ImportResult]
Items = list[dict[str, Any]]
Answer = tuple[int, str, bool]
"""Status, JSON body, and whether it is a stored answer replayed."""


@dataclass(frozen=True)
class Batch:
    credential: Credential
    key: str | None
    fingerprint: str
    items: Items
    importer: Importer
    subjects: Callable[[Items], Sequence[str | None]]

    @property
    def action(self) -> str:
        """The audit log's verb: the scope used, `payments.write` and so on."""
        return self.importer.__name__.removeprefix("import_") + ".write"


def parse_items(adapter: TypeAdapter[Any], body: bytes, *, batch: bool = True) -> Items:
    """The body's items as dicts of the fields sent; 400 for bad JSON, 422 for a bad shape."""
    try:
        parsed = adapter.validate_json(body)
    except ValidationError as exc:
        malformed = any(error["type"] == "json_invalid" for error in exc.errors())
        raise ApiProblem(400 if malformed else 422, validation_errors(exc, batch=batch)) from None
    models: Sequence[BaseModel] = parsed if batch else [parsed]
    return [model.model_dump(exclude_unset=True) for model in models]


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not (0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()):
        raise ApiProblem.of(
            400, f"1 to {MAX_KEY_LENGTH} printable ASCII characters", field="Idempotency-Key"
        )
    return key


async def write(
    api: ApiService,
    request: Request,
    credential: Credential,
    *,
    importer: Importer,
    items_of: Callable[[bytes], Items],
    subjects: Callable[[Items], Sequence[str | None]],
) -> Response:
    """Read, validate, import in one transaction, audit; or replay the first answer."""
    key = idempotency_key(request)
    body = await read_body(request, api.max_body_bytes)
    fingerprint = request_hash(request.method, request.url.path, body)

    def replay_only() -> Answer | None:  # a retry costs a look-up, not a validation
        with Session(api.context.engine) as session:
            return _replay(session, credential, key, fingerprint)

    def run() -> Answer:
        batch = Batch(credential, key, fingerprint, items_of(body), importer, subjects)
        with Session(api.context.engine) as session:
            try:
                return _import(api, session, batch)
            except IntegrityError:  # a concurrent twin committed first
                session.rollback()
                replay = _replay(session, credential, key, fingerprint)
            if replay is None:
                raise ApiProblem.of(409, "a concurrent write changed the same records; retry")
            return replay

    found = await asyncio.to_thread(replay_only) if key is not None else None
    status, answer, replayed = found if found is not None else await asyncio.to_thread(run)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(answer, status, headers=headers, media_type="application/json")


def _replay(
    session: Session, credential: Credential, key: str | None, fingerprint: str
) -> Answer | None:
    stored = stored_answer(session, credential.id, key, fingerprint) if key else None
    if stored is None:
        return None
    if not stored.same_request:
        raise ApiProblem.of(
            422, "this key was used for a different request", field="Idempotency-Key"
        )
    return stored.status, stored.body, True


def _import(api: ApiService, session: Session, batch: Batch) -> Answer:
    replay = _replay(session, batch.credential, batch.key, batch.fingerprint)
    if replay is not None:
        return replay
    targets = api.targets
    result = batch.importer(
        session,
        batch.items,
        known_accounts=targets.known_accounts,
        currencies=targets.currencies,
        policies=targets.policies,
    )
    if not result.ok:
        session.rollback()
        raise ApiProblem(
            422, [ErrorItem(index=e.row, field=e.column, message=e.reason) for e in result.errors]
        )
    now = api.context.now()
    record_audits(
        session,
        at=now,
        actor=batch.credential.name,
        action=batch.action,
        subjects=batch.subjects(batch.items),
        detail=f"{result.rows} items, {result.created} created, {result.updated} updated",
        via="api",
    )
    answer = WriteResult(rows=result.rows, created=result.created, updated=result.updated)
    body = answer.model_dump_json()
    if batch.key is not None:
        store_answer(
            session, batch.credential.id, batch.key, batch.fingerprint,
            status=200, body=body, now=now,
        )  # fmt: skip
    session.commit()
    return 200, body, False


def no_subject(items: Items) -> Sequence[str | None]:
    """Payments and balances concern an account, not a person: one entry per request."""
    return [None]


def employee_subjects(items: Items) -> Sequence[str | None]:
    """One entry per employee written, so `coverwatch audit --employee ID` finds it."""
    return [str(item["employee_id"]) for item in items]


async def put_employee(api: ApiService, request: Request, credential: Credential) -> Response:
    """One employee by id: the fields sent change, the rest stay (a new id needs them all)."""
    employee_id = request.path_params["employee_id"]

    def items_of(body: bytes) -> Items:
        (item,) = parse_items(EMPLOYEE_UPDATE, body, batch=False)
        if item.setdefault("employee_id", employee_id) != employee_id:
            raise ApiProblem(
                422, [ErrorItem(index=0, field="employee_id", message="differs from the path")]
            )
        return [item]

    return await write(
        api,
        request,
        credential,
        importer=import_employees,
        items_of=items_of,
        subjects=employee_subjects,
    )


EMPLOYEE_UPDATE: TypeAdapter[Any] = TypeAdapter(EmployeeUpdate)
