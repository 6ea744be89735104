"""What a finance system does with the API: people in, dues out, yesterday's payment in — and
the overdue alert it clears is resolved at the next scan, as after a file import."""

from __future__ import annotations

import json

from tests.support.api import Api, company_items
from tests.support.cli import cli


def test_a_payment_through_the_api_clears_an_overdue_alert_at_the_next_scan(
    api: Api, db_url: str
) -> None:
    people = company_items()
    assert api.client.post("/api/v1/employees", json=people, headers=api.headers()).is_success
    assert cli(db_url, "dues", "--period", "2026-11").exit_code == 0
    opened = json.loads(cli(db_url, "scan", "--json").stdout)["alerts"]
    overdue = [a for a in opened if (a["kind"], a["account"]) == ("overdue", "beijing")]
    assert [a["period"] for a in overdue] == ["2026-11"]

    dues = api.client.get("/api/v1/dues?period=2026-11", headers=api.headers("read")).json()
    total = next(row["total"] for row in dues["accounts"] if row["account"] == "beijing")
    payment = {"account": "beijing", "period": "2026-11", "amount": total, "paid_on": "2026-11-19"}
    paid = api.client.post(
        "/api/v1/payments",
        json=[payment],
        headers=api.headers("payments", **{"Idempotency-Key": "bank-2026-11-19"}),
    )
    assert paid.json() == {"rows": 1, "created": 1, "updated": 0}

    rescan = json.loads(cli(db_url, "scan", "--json").stdout)["alerts"]
    still_open = api.client.get("/api/v1/alerts", headers=api.headers("read")).json()["alerts"]
    assert not [a for a in rescan if a["id"] == overdue[0]["id"] and a["state"] != "resolved"]
    assert overdue[0]["id"] not in {a["id"] for a in still_open}
    assert {(a["kind"], a["account"]) for a in still_open} & {("overdue", "shanghai")}
