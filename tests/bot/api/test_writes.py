"""POST /payments, /balances, /employees and PUT /employees/{id}: the importers' rules, all or
nothing, audited with the token's name, idempotent with a key; bad bodies are 4xx, never 500."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage.models import AuditEntry, Balance, Employee, Payment
from tests.support.api import PAYMENT, Api, running_api
from tests.support.imports import snapshot

EMPLOYEE = {
    "employee_id": "E1",
    "name": "王芳",
    "account": "beijing",
    "hire_date": "2024-01-02",
    "salary": "10000",
}


def _error(index: int | None, field: str | None, message: str) -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


def _audit(api: Api) -> list[tuple[str, str, str | None, str | None]]:
    with Session(api.service.context.engine) as session:
        entries = session.exec(select(AuditEntry)).all()
        return [(e.actor, e.action, e.subject, e.via) for e in entries]


def test_payments_are_written_and_audited_with_the_token_name(api: Api) -> None:
    second = PAYMENT | {"amount": 99, "paid_on": "2026-11-04"}

    answer = api.client.post("/api/v1/payments", json=[PAYMENT, second], headers=api.headers())

    assert (answer.status_code, answer.json()) == (200, {"rows": 2, "created": 2, "updated": 0})
    with Session(api.service.context.engine) as session:
        amounts = sorted(str(p.amount) for p in session.exec(select(Payment)))
    assert amounts == ["1234.50", "99.00"]
    assert _audit(api) == [("erp", "payments.write", None, "api")]


def test_a_late_fee_payment_keeps_its_kind(api: Api) -> None:
    fee = PAYMENT | {"amount": "61.73", "kind": "late_fee"}

    paid = api.client.post("/api/v1/payments", json=[PAYMENT, fee], headers=api.headers())
    bad = api.client.post(
        "/api/v1/payments", json=[PAYMENT | {"kind": "tip"}], headers=api.headers()
    )

    assert paid.json() == {"rows": 2, "created": 2, "updated": 0}
    with Session(api.service.context.engine) as session:
        kinds = sorted((str(p.amount), p.kind) for p in session.exec(select(Payment)))
    assert kinds == [("1234.50", "dues"), ("61.73", "late_fee")]
    assert bad.json() == {
        "errors": [_error(0, "kind", "unknown payment kind 'tip' (expected dues, late_fee)")]
    }


def test_one_bad_item_refuses_the_whole_batch_with_every_problem(api: Api) -> None:
    before = snapshot(api.service.context.engine)
    items = [
        PAYMENT,
        PAYMENT | {"amount": "12.345"},
        PAYMENT | {"account": "mars", "period": "2026-13"},
        PAYMENT,
    ]

    answer = api.client.post("/api/v1/payments", json=items, headers=api.headers())

    assert answer.status_code == 422
    assert answer.json() == {
        "errors": [
            _error(1, "amount", "more than two decimals: 12.345"),
            _error(2, "account", answer.json()["errors"][1]["message"]),
            _error(2, "period", "bad period '2026-13' (expected YYYY-MM)"),
            _error(3, "amount", "same payment as item 0"),
        ]
    }
    assert answer.json()["errors"][1]["message"].startswith("unknown account 'mars' (expected ")
    assert snapshot(api.service.context.engine) == before
    assert _audit(api) == []


def test_a_retry_with_the_same_key_returns_the_first_answer_and_writes_once(api: Api) -> None:
    body = [PAYMENT, PAYMENT | {"paid_on": "2026-11-05"}]
    headers = api.headers(**{"Idempotency-Key": "bank-2026-11-05"})

    first = api.client.post("/api/v1/payments", json=body, headers=headers)
    with Session(api.service.context.engine) as session:  # someone deletes one meanwhile
        session.delete(session.exec(select(Payment)).first())
        session.commit()
    retry = api.client.post("/api/v1/payments", json=body, headers=headers)
    other_body = api.client.post("/api/v1/payments", json=[PAYMENT], headers=headers)
    feed = api.headers("payments", **{"Idempotency-Key": "bank-2026-11-05"})
    other_token = api.client.post("/api/v1/payments", json=body, headers=feed)

    assert first.json() == {"rows": 2, "created": 2, "updated": 0}
    assert (retry.status_code, retry.content) == (200, first.content)
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    with Session(api.service.context.engine) as session:
        assert len(session.exec(select(Payment)).all()) == 1 + 1  # the retry wrote nothing
    assert other_body.status_code == 422
    assert other_body.json() == {
        "errors": [_error(None, "Idempotency-Key", "this key was used for a different request")]
    }
    assert other_token.json() == {"rows": 2, "created": 1, "updated": 0}  # keys are per token
    assert [a[0] for a in _audit(api)] == ["erp", "bank-feed"]


def test_a_refused_batch_stores_no_answer_for_its_key(api: Api) -> None:
    headers = api.headers(**{"Idempotency-Key": "k1"})
    bad = api.client.post("/api/v1/payments", json=[PAYMENT | {"amount": "x"}], headers=headers)
    fixed = api.client.post("/api/v1/payments", json=[PAYMENT], headers=headers)

    assert (bad.status_code, fixed.status_code) == (422, 200)
    assert fixed.json()["created"] == 1


def test_malformed_json_is_400(api: Api) -> None:
    for body in (b"{" * 100, b"", b"\xff\xfe", b"[1,]", b"[" * 100_000):
        answer = api.client.post("/api/v1/payments", content=body, headers=api.headers())
        assert answer.status_code == 400, body
        (error,) = answer.json()["errors"]
        assert (error["index"], error["field"]) == (None, None)
        assert error["message"].startswith("body is not valid JSON: ")


BAD_SHAPES: list[tuple[object, list[dict[str, Any]]]] = [
    ({"account": "beijing"}, [_error(None, None, "expected a JSON array of items")]),
    ([], [_error(None, None, "expected at least one item")]),
    ([1, None], [_error(0, None, "expected an object"), _error(1, None, "expected an object")]),
    (
        [PAYMENT | {"amount": {"value": 1}}],
        [_error(0, "amount", "expected a string, number or null")],
    ),
    (
        [{"account": "beijing", "memo": "x"}, PAYMENT | {"amount": True}],
        [
            _error(0, "memo", "unknown field"),
            _error(0, "period", "missing required value"),
            _error(0, "amount", "missing required value"),
            _error(0, "paid_on", "missing required value"),
            _error(1, "amount", "not a number: True"),
        ],
    ),
]


def test_a_body_of_the_wrong_shape_is_422(api: Api) -> None:
    for body, errors in BAD_SHAPES:
        answer = api.client.post("/api/v1/payments", json=body, headers=api.headers())
        assert (answer.status_code, answer.json()) == (422, {"errors": errors}), body


def test_at_most_ten_thousand_items(api: Api) -> None:
    items = [PAYMENT | {"amount": str(n + 1)} for n in range(10_001)]

    answer = api.client.post("/api/v1/payments", json=items, headers=api.headers())

    assert answer.status_code == 422
    assert answer.json() == {"errors": [_error(None, None, "at most 10,000 items per request")]}


def test_a_body_over_the_cap_is_413_declared_or_streamed(engine: Engine, db_url: str) -> None:
    big = json.dumps([PAYMENT] * 20).encode()
    with running_api(db_url, max_body_bytes=1000) as api:
        declared = api.client.post("/api/v1/payments", content=big, headers=api.headers())
        streamed = api.client.post(
            "/api/v1/payments", content=iter([big[:600], big[600:]]), headers=api.headers()
        )
        fits = api.client.post("/api/v1/payments", json=[PAYMENT], headers=api.headers())

    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json() == {
            "errors": [_error(None, None, "body larger than 1000 bytes ([http] max_body_bytes)")]
        }
    assert fits.status_code == 200


def test_balances(api: Api) -> None:
    items = [{"account": "hk", "as_of": "2026-11-30", "balance": "-1,200.00"}]

    created = api.client.post("/api/v1/balances", json=items, headers=api.headers())
    updated = api.client.post(
        "/api/v1/balances", json=[items[0] | {"balance": "500"}], headers=api.headers()
    )
    bad = api.client.post(
        "/api/v1/balances", json=[items[0] | {"as_of": "2026-02-30"}], headers=api.headers()
    )

    assert created.json() == {"rows": 1, "created": 1, "updated": 0}
    assert updated.json() == {"rows": 1, "created": 0, "updated": 1}
    assert (bad.status_code, bad.json()) == (
        422,
        {"errors": [_error(0, "as_of", "bad date '2026-02-30' (expected YYYY-MM-DD)")]},
    )
    with Session(api.service.context.engine) as session:
        assert [str(b.balance) for b in session.exec(select(Balance))] == ["500.00"]


def test_employees_upsert_changing_only_the_fields_sent(api: Api) -> None:
    full = EMPLOYEE | {"department": "财务部", "role": "finance"}
    created = api.client.post("/api/v1/employees", json=[full], headers=api.headers())
    updated = api.client.post(
        "/api/v1/employees", json=[{"employee_id": "E1", "salary": 12000}], headers=api.headers()
    )
    incomplete = api.client.post(
        "/api/v1/employees",
        json=[{"employee_id": "E2", "name": "李雷"}, {"salary": "1"}],
        headers=api.headers(),
    )

    assert created.json() == {"rows": 1, "created": 1, "updated": 0}
    assert updated.json() == {"rows": 1, "created": 0, "updated": 1}
    with Session(api.service.context.engine) as session:
        employee = session.get(Employee, "E1")
        assert employee is not None
        assert (str(employee.salary), employee.department, employee.role) == (
            "12000.00",
            "财务部",
            "finance",
        )
    assert incomplete.json() == {
        "errors": [
            _error(0, "account", "missing required value"),
            _error(0, "hire_date", "missing required value"),
            _error(0, "salary", "missing required value"),
            _error(1, "employee_id", "missing required value"),
        ]
    }
    assert _audit(api) == [("erp", "employees.write", "E1", "api")] * 2


def test_put_one_employee(api: Api) -> None:
    path = "/api/v1/employees/E7"
    body = {k: v for k, v in EMPLOYEE.items() if k != "employee_id"}

    created = api.client.put(path, json=body, headers=api.headers())
    changed = api.client.put(path, json={"leave_date": "2026-12-31"}, headers=api.headers())
    same = api.client.put(path, json={"employee_id": "E7"}, headers=api.headers())
    other = api.client.put(path, json={"employee_id": "E8"}, headers=api.headers())
    not_object = api.client.put(path, json=[body], headers=api.headers())
    bad = api.client.put(path, json={"leave_date": "2020-01-01"}, headers=api.headers())
    read_only = api.client.put(path, json=body, headers=api.headers("read"))

    assert created.json() == {"rows": 1, "created": 1, "updated": 0}
    assert changed.json() == {"rows": 1, "created": 0, "updated": 1}
    assert same.json() == {"rows": 1, "created": 0, "updated": 0}
    assert other.json() == {"errors": [_error(0, "employee_id", "differs from the path")]}
    assert not_object.json() == {"errors": [_error(None, None, "expected an object")]}
    assert bad.json() == {
        "errors": [_error(0, "leave_date", "leave date 2020-01-01 is before hire date 2024-01-02")]
    }
    assert read_only.status_code == 403
    assert [entry[2] for entry in _audit(api)] == ["E7", "E7", "E7"]


def test_unknown_paths_and_methods_answer_in_the_error_shape(api: Api) -> None:
    missing = api.client.get("/api/v1/nothing", headers=api.headers())
    wrong_method = api.client.delete("/api/v1/payments", headers=api.headers())

    assert (missing.status_code, wrong_method.status_code) == (404, 405)
    for answer in (missing, wrong_method):
        assert answer.json()["errors"][0]["message"].startswith("no such endpoint or method")


def test_concurrent_retries_with_one_key_write_once(api: Api) -> None:
    body = [PAYMENT | {"amount": str(n + 1)} for n in range(200)]
    headers = api.headers(**{"Idempotency-Key": "burst"})

    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: api.client.post("/api/v1/payments", json=body, headers=headers), range(4)
            )
        )

    done = [a for a in answers if a.status_code == 200]
    assert done and {a.content for a in done} == {done[0].content}
    assert {a.status_code for a in answers} <= {200, 503}  # 503: SQLite's writer lock; retry
    assert done[0].json() == {"rows": 200, "created": 200, "updated": 0}
    with Session(api.service.context.engine) as session:
        assert len(session.exec(select(Payment)).all()) == 200
    assert len(_audit(api)) == 1
