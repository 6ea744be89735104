"""`[http] metrics_token`: /metrics wants `Authorization: Bearer <token>` when one is set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.runtime import Runtime, metrics_authorized
from storage.db import make_engine, upgrade
from tests.support.company import make_app

pytestmark = pytest.mark.anyio
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    upgrade(engine)
    yield engine
    engine.dispose()


async def _get(runtime: Runtime, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=runtime.asgi())
    async with httpx.AsyncClient(transport=transport, base_url="http://coverwatch") as client:
        return await client.get("/metrics", headers=headers)


def _runtime(engine: Engine, token: str) -> Runtime:
    app = make_app(engine)
    return Runtime(
        app, {}, host="127.0.0.1", port=8080, poll_seconds=1, jobs={}, metrics_token=token
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
    ],
)
async def test_without_the_token_metrics_are_401(engine: Engine, headers: dict[str, str]) -> None:
    answer = await _get(_runtime(engine, TOKEN), headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "coverwatch_" not in answer.text


async def test_with_the_token_metrics_are_served(engine: Engine) -> None:
    answer = await _get(_runtime(engine, TOKEN), {"authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")


async def test_no_token_configured_leaves_metrics_open(engine: Engine) -> None:
    assert (await _get(_runtime(engine, ""), {})).status_code == 200


def test_bearer_scheme_is_case_insensitive_the_token_is_not() -> None:
    assert metrics_authorized(TOKEN, f"bearer {TOKEN}")
    assert not metrics_authorized(TOKEN, f"Bearer {TOKEN.upper()}")
