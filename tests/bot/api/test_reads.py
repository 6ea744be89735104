"""GET /dues, /alerts, /employees/{id}/coverage: the CLI's own documents, byte for byte the
same data as `dues --json` and `alerts --json`, and described exactly by the OpenAPI models."""

from __future__ import annotations

import json
from typing import Any

from bot.api.documents import AlertsDocument, CoverageDocument, DuesDocument
from storage.audit import audit_entries
from storage.db import make_engine, session_scope
from tests.support.api import Api, company_items
from tests.support.cli import cli


def _company(api: Api, db_url: str) -> None:
    items = company_items()
    answer = api.client.post("/api/v1/employees", json=items, headers=api.headers())
    assert answer.json() == {"rows": 5, "created": 5, "updated": 0}
    assert cli(db_url, "dues", "--period", "2026-11").exit_code == 0


def _get(api: Api, path: str, token: str = "read") -> Any:
    answer = api.client.get(path, headers=api.headers(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_dues_is_the_dues_json_document(api: Api, db_url: str) -> None:
    _company(api, db_url)

    served = _get(api, "/api/v1/dues?period=2026-11")

    printed = json.loads(cli(db_url, "dues", "--period", "2026-11", "--json").stdout)
    assert served == printed
    assert {row["account"] for row in served["accounts"]} == {"beijing", "shanghai", "hk"}
    DuesDocument.model_validate(served)


def test_dues_refusals(api: Api) -> None:
    not_computed = "no dues computed for 2026-12 (coverwatch dues --period 2026-12)"
    for query, status, field, message in [
        ("", 422, "period", "missing required value (YYYY-MM)"),
        ("?period=2026-13", 422, "period", "bad period '2026-13' (expected YYYY-MM)"),
        ("?period=2026-12", 404, None, not_computed),
    ]:
        answer = api.client.get("/api/v1/dues" + query, headers=api.headers("read"))
        assert (answer.status_code, answer.json()) == (
            status,
            {"errors": [{"index": None, "field": field, "message": message}]},
        )


def test_alerts_is_the_alerts_json_document(api: Api, db_url: str) -> None:
    _company(api, db_url)
    assert cli(db_url, "scan").exit_code == 0

    served = _get(api, "/api/v1/alerts")

    printed = json.loads(cli(db_url, "alerts", "--json").stdout)
    assert served == printed
    assert {(a["kind"], a["account"]) for a in served["alerts"]} >= {("overdue", "beijing")}
    AlertsDocument.model_validate(served)


def test_coverage_of_one_employee(api: Api, db_url: str) -> None:
    _company(api, db_url)

    served = _get(api, "/api/v1/employees/E001/coverage")
    missing = api.client.get("/api/v1/employees/E999/coverage", headers=api.headers("read"))

    CoverageDocument.model_validate(served)
    assert served == {
        "employee_id": "E001",
        "account": "beijing",
        "as_of": "2026-11-20",
        "state": "grace",
        "paid_through": served["paid_through"],
        "next_due": "2026-11-16",
        "suspension_on": served["suspension_on"],
        "arrears": ["2026-11"],
        "lapsed": [],
        "confirmed": served["confirmed"],
        "provisional": False,
    }
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (404, "employee_id")


def test_every_read_of_peoples_data_is_in_the_access_log(api: Api, db_url: str) -> None:
    """Dues show each employee's base, coverage one person's cover: views by the token."""
    _company(api, db_url)
    _get(api, "/api/v1/dues?period=2026-11")
    _get(api, "/api/v1/employees/E002/coverage")
    api.client.get("/api/v1/employees/E999/coverage", headers=api.headers("read"))
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        views = [(e.actor, e.subject, e.detail, e.via) for e in audit_entries(session, since=None)]
    engine.dispose()
    views = [view for view in views if view[2].startswith("GET")]
    everyone = ["E001", "E002", "E003", "H001", "M001"]
    assert sorted(views) == sorted(
        [("dashboard", who, "GET dues 2026-11", "api") for who in everyone]
        + [("dashboard", "E002", "GET coverage", "api")]
    )
