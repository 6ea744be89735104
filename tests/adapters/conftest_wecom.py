"""Fixtures of the WeCom adapter tests: a clock, the loopback fake WeCom API, the adapter.

Test modules load them with `pytest_plugins = ["tests.adapters.conftest_wecom"]`; their names
start with `wecom_` because a plugin's fixtures are visible to every test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.wecom import WeComAdapter
from tests.adapters.wecom_support import (
    AGENT_ID,
    CORP_ID,
    HR_CHAT,
    SECRET,
    USERS,
    FakeClock,
    make_adapter,
)
from tests.fakes.wecom import FakeWeCom


@pytest.fixture
def wecom_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wecom_fake(wecom_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeCom]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # requests honours proxy variables
    fake = FakeWeCom(
        corp_id=CORP_ID,
        secret=SECRET,
        agent_id=AGENT_ID,
        users=USERS,
        chats=frozenset({HR_CHAT}),
        clock=wecom_clock,
    )
    with fake.running():
        yield fake


@pytest.fixture
def wecom_adapter(wecom_fake: FakeWeCom, wecom_clock: FakeClock) -> WeComAdapter:
    return make_adapter(wecom_fake, wecom_clock)
