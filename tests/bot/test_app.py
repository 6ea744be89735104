"""`open_app`: the shared context of the CLI, the console and the runtime."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from bot.app import AppError, fixed_clock, open_app
from bot.config import load_settings
from core.locales import ZH_CN
from storage.db import make_engine, upgrade
from storage.models import Account


def _settings(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "coverwatch.toml"
    url = f"sqlite:///{tmp_path}/app.db"
    path.write_text(f'[database]\nurl = "{url}"\n[bot]\ntimezone = "Asia/Hong_Kong"\n{extra}')
    return path


def test_fixed_clock_is_ten_o_clock_local_in_utc() -> None:
    clock = fixed_clock(date(2026, 11, 20), ZoneInfo("Asia/Shanghai"))
    assert clock() == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_open_app_syncs_configured_accounts_and_takes_bot_settings(tmp_path: Path) -> None:
    config = _settings(tmp_path, '[accounts.sz]\npolicy = "shenzhen"\ninjury_rate = 0.004\n')
    settings = load_settings(config, environ={})
    upgrade(make_engine(settings.database.url))
    context = open_app(settings, clock=fixed_clock(date(2026, 1, 5), ZoneInfo("Asia/Hong_Kong")))
    assert context.today() == date(2026, 1, 5)
    assert context.timezone == ZoneInfo("Asia/Hong_Kong") and context.default_locale == ZH_CN
    assert {"beijing", "shanghai", "hk"} <= set(context.policies)
    with Session(context.engine) as session:
        account = session.get(Account, "sz")
        assert account is not None
        assert (account.policy_id, account.currency) == ("shenzhen", "CNY")
        assert account.injury_rate == Decimal("0.004")


def test_open_app_without_a_schema_says_to_run_init(tmp_path: Path) -> None:
    settings = load_settings(_settings(tmp_path), environ={})
    with pytest.raises(AppError, match=r"run `coverwatch init` first"):
        open_app(settings)


def test_an_account_with_an_unknown_policy_is_an_app_error(tmp_path: Path) -> None:
    settings = load_settings(_settings(tmp_path, '[accounts.moon]\npolicy = "moon"\n'), environ={})
    upgrade(make_engine(settings.database.url))
    with pytest.raises(AppError, match="account moon: unknown policy 'moon'"):
        open_app(settings)
