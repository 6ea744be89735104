"""Wiring from settings: the platform table drives routing and adapters, no platform named."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import AlertsConfig, PlatformSection, Settings, load_settings
from bot.wiring import adapter_factory, build_adapters, routing_from, routing_warnings
from core.platforms import PLATFORMS, PlatformSpec, platform_spec
from core.policy_loader import load_policies
from storage.accounts import sync_accounts
from storage.db import session_scope
from storage.models import Employee
from tests.support.databases import Migrated

ENABLED = {
    "COVERWATCH_SLACK__ENABLED": "1",
    "COVERWATCH_SLACK__BOT_TOKEN": "xoxb-1",
    "COVERWATCH_SLACK__SIGNING_SECRET": "s",
    "COVERWATCH_DINGTALK__ENABLED": "1",
    "COVERWATCH_DINGTALK__CLIENT_ID": "dingabc",
    "COVERWATCH_DINGTALK__CLIENT_SECRET": "s",
    "COVERWATCH_WECOM__ENABLED": "1",
    "COVERWATCH_WECOM__CORP_ID": "ww1",
    "COVERWATCH_WECOM__SECRET": "s",
    "COVERWATCH_WECOM__AGENT_ID": "1000002",
    "COVERWATCH_WECOM__TOKEN": "t",
    "COVERWATCH_WECOM__ENCODING_AES_KEY": "k" * 43,
}


@pytest.fixture(autouse=True)
def _no_stray_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("spec", PLATFORMS, ids=lambda spec: spec.name)
def test_every_row_names_a_section_a_column_and_a_factory(spec: PlatformSpec) -> None:
    assert spec is platform_spec(spec.name)
    section = getattr(Settings(), spec.section)
    assert isinstance(section, PlatformSection)
    assert getattr(section, spec.group_setting) == ()
    assert spec.user_id_column in Employee.model_fields
    assert callable(adapter_factory(spec))


def _settings(groups: Mapping[str, str]) -> Settings:
    return load_settings(environ={**ENABLED, **groups})


def test_routing_has_each_enabled_platform_and_its_hr_groups_under_either_name() -> None:
    routing = routing_from(
        _settings(
            {
                "COVERWATCH_SLACK__HR_CHANNELS": '["C1"]',
                "COVERWATCH_DINGTALK__HR_GROUPS": '["cid1"]',
                "COVERWATCH_WECOM__HR_GROUPS": '["wr1", "wr2"]',
            }
        )
    )
    assert routing.platforms == ("slack", "dingtalk", "wecom")
    assert routing.hr_groups == {"slack": ("C1",), "dingtalk": ("cid1",), "wecom": ("wr1", "wr2")}


def test_a_disabled_platform_has_no_route_and_no_adapter() -> None:
    settings = load_settings(
        environ={
            "COVERWATCH_DINGTALK__HR_GROUPS": '["cid1"]',  # set, but DingTalk is off
            "COVERWATCH_SLACK__ENABLED": "1",
            "COVERWATCH_SLACK__BOT_TOKEN": "xoxb-1",
            "COVERWATCH_SLACK__SIGNING_SECRET": "s",
        }
    )
    assert routing_from(settings).platforms == ("slack",)
    assert routing_from(settings).hr_groups == {}
    assert list(build_adapters(settings)) == ["slack"]


def test_each_enabled_platform_gets_its_adapter_with_its_hr_groups() -> None:
    adapters = build_adapters(_settings({"COVERWATCH_WECOM__HR_CHATS": '["wr1"]'}))
    assert {name: type(adapter).__name__ for name, adapter in adapters.items()} == {
        "slack": "SlackAdapter",
        "dingtalk": "DingTalkAdapter",
        "wecom": "WeComAdapter",
    }
    [hr] = adapters["wecom"].hr_recipients  # type: ignore[attr-defined]
    assert (hr.address, hr.is_group) == ("wr1", True)


def test_with_no_chat_platform_the_console_stands_in() -> None:
    settings = Settings()
    assert routing_from(settings).chat_platforms == ("console",)
    assert list(build_adapters(settings)) == ["console"]


def test_run_warns_when_escalation_reaches_no_one() -> None:
    """Issue 14 item 4: `hr_leads = []` (the default) makes the last escalation level silent."""
    assert "hr_leads is empty" in routing_warnings(Settings())[0]
    assert routing_warnings(Settings(alerts=AlertsConfig(hr_leads=("H1",)))) == []
    assert routing_warnings(Settings(alerts=AlertsConfig(escalation_levels=0))) == []


def test_run_warns_of_owners_and_on_call_members_nobody_can_reach(
    sqlite_url: str, migrated: Migrated
) -> None:
    """Issue 14 item 4: an owner or on-call member with no id on any enabled platform (or not
    on the roster) is named at start, beside the hr_leads warning."""
    engine = migrated(sqlite_url)
    with session_scope(engine) as session:
        sync_accounts(session, {}, load_policies(), ids=["beijing", "shanghai"])
        for employee_id, slack in [("H1", "U1"), ("H2", None), ("H3", "U3")]:
            session.add(
                Employee(
                    employee_id=employee_id,
                    name=employee_id,
                    account_id="beijing",
                    hire_date=date(2025, 1, 1),
                    salary=Decimal("10000"),
                    role="hr",
                    slack_user_id=slack,
                )
            )
    settings = load_settings(
        None,
        environ={
            **ENABLED,
            "COVERWATCH_DINGTALK__ENABLED": "0",
            "COVERWATCH_WECOM__ENABLED": "0",
            "COVERWATCH_ALERTS__HR_LEADS": '["H1"]',
            "COVERWATCH_ACCOUNTS__BEIJING__OWNERS": '["H1", "H2"]',
            "COVERWATCH_ACCOUNTS__SHANGHAI__OWNERS": '["H3"]',
            "COVERWATCH_ONCALL__MEMBERS": '["H3", "H9"]',
        },
    )
    assert routing_warnings(settings) == []  # without the database: the config alone is fine
    assert routing_warnings(settings, engine) == [
        "[accounts.beijing] owners: H2 has no slack id: their alerts go to hr_leads and the HR "
        "groups instead (add the ids to the employees file, or coverwatch sync users)",
        "[oncall] members: H9 is not on the roster: their alerts go to hr_leads and the HR "
        "groups instead (add the ids to the employees file, or coverwatch sync users)",
    ]
    engine.dispose()


def test_notify_employees_is_opt_in() -> None:
    assert routing_from(Settings()).notify_employees is False
    on = load_settings(None, environ={"COVERWATCH_ALERTS__NOTIFY_EMPLOYEES": "true"})
    assert routing_from(on).notify_employees is True
