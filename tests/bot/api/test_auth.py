"""Bearer tokens, scopes and the per-token rate: 401, 403 and 429 with the API's error shape."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from bot.api.auth import TokenRates
from bot.api.problems import ApiProblem
from storage.api_tokens import Credential
from tests.support.api import PAYMENT, Api, running_api


def test_no_token_a_bad_one_or_a_revoked_one_is_401(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer cw_000000000000_" + "A" * 43},
        {"Authorization": "Bearer " + "x" * 10_000},
        api.headers("revoked"),
    ):
        answer = api.client.get("/api/v1/alerts", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Bearer realm="coverwatch"'
        assert answer.json() == {
            "errors": [
                {
                    "index": None,
                    "field": None,
                    "message": "missing, unknown or revoked API token "
                    "(Authorization: Bearer <token>)",
                }
            ]
        }


def test_a_token_outside_its_scope_is_403_and_writes_nothing(api: Api) -> None:
    read_only = api.client.post("/api/v1/payments", json=[PAYMENT], headers=api.headers("read"))
    payments_only = api.client.get("/api/v1/alerts", headers=api.headers("payments"))

    assert (read_only.status_code, payments_only.status_code) == (403, 403)
    assert read_only.json()["errors"][0]["message"] == "this token lacks the scope payments:write"
    assert payments_only.json()["errors"][0]["message"] == "this token lacks the scope read"
    assert api.client.get("/api/v1/alerts", headers=api.headers("read")).status_code == 200


def test_the_token_is_checked_before_the_body_is_read(api: Api) -> None:
    answer = api.client.post("/api/v1/payments", content=b"{" * 100, headers={})

    assert answer.status_code == 401


def test_over_its_rate_a_token_gets_429_with_retry_after(engine: Engine, db_url: str) -> None:
    with running_api(db_url, per_minute=3) as api:
        answers = [api.client.get("/api/v1/alerts", headers=api.headers()) for _ in range(4)]
        other = api.client.get("/api/v1/alerts", headers=api.headers("read"))

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert answers[-1].json()["errors"][0]["message"] == (
        "more than 3 requests a minute with this token"
    )
    assert other.status_code == 200  # the rate is per token


def test_the_rate_window_slides() -> None:
    now = [1000.0]
    rates = TokenRates(2, clock=lambda: now[0])
    erp = Credential(id=1, name="erp", scopes=frozenset({"read"}))
    rates.admit(erp)
    now[0] += 30
    rates.admit(erp)
    with pytest.raises(ApiProblem) as refused:
        rates.admit(erp)
    assert refused.value.headers == {"Retry-After": "30"}

    now[0] += 30.5
    rates.admit(erp)  # the first request left the window
