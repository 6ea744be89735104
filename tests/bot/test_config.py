"""Config: defaults, file, env override, --db override, and clear errors for bad input."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel, SecretStr

from bot.config import ConfigError, Settings, load_settings
from bot.wiring import rules_from
from core.locales import ZH_CN
from storage.sealing import key_id, new_key

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


@pytest.fixture(autouse=True)
def _no_stray_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no ./coverwatch.toml exists, whatever the developer's checkout holds."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coverwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    settings = load_settings(environ={})
    assert settings.database.url == "sqlite:///coverwatch.db"
    assert settings.bot.timezone == "Asia/Shanghai"
    assert settings.bot.locale == ZH_CN
    assert settings.scheduler.outbox_poll_seconds == 2
    assert settings.alerts.lead_days == (7, 3, 1)
    assert settings.alerts.urgent_bypass_quiet_hours == ("overdue", "suspension_imminent")
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8080)
    assert settings.slack.api_base_url == "https://slack.com/api/"
    assert settings.dingtalk.gateway_url == settings.dingtalk.api_base_url
    assert settings.wecom.api_base_url == "https://qyapi.weixin.qq.com/cgi-bin/"
    assert not (settings.slack.enabled or settings.webhook.enabled)


def test_default_path_is_read_when_present(tmp_path: Path) -> None:
    write(tmp_path, '[bot]\nlocale = "en"\n')
    assert load_settings(environ={}).bot.locale == "en"


def test_file_values_and_account_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[alerts]
lead_days = [10, 2]
quiet_hours = "21:30-07:45"
[accounts.beijing]
injury_rate = 0.0016
[accounts.sh]
policy = "shanghai"
due_day = 20
""",
    )
    settings = load_settings(path, environ={})
    assert settings.alerts.lead_days == (10, 2)
    assert settings.alerts.quiet_window == (time(21, 30), time(7, 45))
    accounts = settings.account_settings()
    assert accounts["beijing"].policy_id == "beijing"
    assert accounts["beijing"].injury_rate == Decimal("0.0016")
    assert isinstance(settings.accounts["beijing"].injury_rate, Decimal)
    assert (accounts["sh"].policy_id, accounts["sh"].due_day) == ("shanghai", 20)


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nport = 9000\n[slack]\nhr_groups = ["C1"]\n')
    settings = load_settings(
        path,
        environ={
            "COVERWATCH_HTTP__PORT": "9100",
            "COVERWATCH_SLACK__BOT_TOKEN": "xoxb-env",
            "coverwatch_alerts__lead_days": "[5, 1]",
            "COVERWATCH_ACCOUNTS__HZ__DUE_DAY": "25",
            "UNRELATED": "x",
        },
    )
    assert settings.http.port == 9100
    assert settings.slack.hr_groups == ("C1",)
    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == "xoxb-env"
    assert settings.alerts.lead_days == (5, 1)
    assert settings.accounts["hz"].due_day == 25


def test_db_flag_wins_over_file_and_env(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///file.db"\n')
    environ = {"COVERWATCH_DATABASE__URL": "sqlite:///env.db"}
    assert load_settings(path, environ=environ).database.url == "sqlite:///env.db"
    flagged = load_settings(path, environ=environ, database_url="sqlite:///flag.db")
    assert flagged.database.url == "sqlite:///flag.db"


def test_quiet_hours_can_be_disabled() -> None:
    settings = load_settings(environ={"COVERWATCH_ALERTS__QUIET_HOURS": ""})
    assert settings.alerts.quiet_window is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[alerts]\nquiet_hours = "25:00-08:00"\n', r"^alerts\.quiet_hours: expected HH:MM"),
        ('[alerts]\nquiet_hours = "08:00-08:00"\n', r"^alerts\.quiet_hours: start and end"),
        ("[alerts]\nlead_days = [7, -1]\n", r"^alerts\.lead_days\[1\]: .*greater than or equal"),
        ('[slack]\nmode = "carrier-pigeon"\n', r"^slack\.mode: .*'http' or 'socket'"),
        ('[alerts]\nurgent_bypass_quiet_hours = ["meh"]\n', r"^alerts\.urgent_bypass"),
        ('[scheduler]\nscan = "61 * * * *"\n', r"^scheduler\.scan: invalid cron"),
        ('[bot]\ntimezone = "Mars/Olympus"\n', r"^bot\.timezone: unknown IANA"),
        ("[kpi]\nthresholds = { on_time = 1.5 }\n", r"^kpi\.thresholds\.on_time: .*less than"),
        ('[accounts.bj]\ninjury_rate = "lots"\n', r"^accounts\.bj\.injury_rate: "),
        ("[http]\nport = 0\n", r"^http\.port: "),
        ('[slack]\nbot_tokn = "x"\n', r"^slack\.bot_tokn: unknown key$"),
        ("[accounts.bj]\ndue = 3\n", r"^accounts\.bj\.due: unknown key$"),
        ("[slak]\nenabled = true\n", r"^slak: unknown section$"),
        ("[http\nport = 1\n", r"invalid TOML"),
    ],
)
def test_bad_file_values_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert "\n" not in str(caught.value)


def test_several_errors_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nport = 0\n[bot]\nlocale = "klingon"\n')
    with pytest.raises(ConfigError, match=r"\(and 1 more error\)$"):
        load_settings(path, environ={})


def test_unknown_env_key_and_section_are_errors() -> None:
    with pytest.raises(ConfigError, match=r"^slack\.bot_tokn: unknown key$"):
        load_settings(environ={"COVERWATCH_SLACK__BOT_TOKN": "x"})
    with pytest.raises(ConfigError, match=r"^COVERWATCH_SLAK__BOT_TOKEN: unknown section 'slak'"):
        load_settings(environ={"COVERWATCH_SLAK__BOT_TOKEN": "x"})


@pytest.mark.parametrize(("section", "older"), [("slack", "hr_channels"), ("wecom", "hr_chats")])
def test_hr_groups_under_their_older_names_are_read_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, section: str, older: str
) -> None:
    note = f"[{section}] {older} is deprecated: rename it to hr_groups"
    path = write(tmp_path, f'[{section}]\n{older} = ["G1"]\n')
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        from_file = load_settings(path, environ={})
    assert getattr(from_file, section).hr_groups == ("G1",)
    assert len(from_file.deprecations) == 1 and from_file.deprecations[0].startswith(note)
    assert [r.getMessage() for r in caplog.records] == [f"config: {from_file.deprecations[0]}"]
    path.unlink()  # the environment alone from here on
    variable = f"COVERWATCH_{section.upper()}__{older.upper()}"
    from_env = load_settings(environ={variable: '["G2", "G3"]'})
    assert getattr(from_env, section).hr_groups == ("G2", "G3")
    assert from_env.deprecations == from_file.deprecations
    current = load_settings(environ={f"COVERWATCH_{section.upper()}__HR_GROUPS": '["G4"]'})
    assert getattr(current, section).hr_groups == ("G4",) and current.deprecations == ()


def test_both_spellings_at_once_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[slack]\nhr_channels = ["C1"]\nhr_groups = ["C2"]\n')
    with pytest.raises(ConfigError, match=r"^slack\.hr_channels: the older name of hr_groups"):
        load_settings(path, environ={})
    both = {"COVERWATCH_WECOM__HR_CHATS": '["a"]', "COVERWATCH_WECOM__HR_GROUPS": '["b"]'}
    with pytest.raises(ConfigError, match=r"^COVERWATCH_WECOM__HR_CHATS: the older name of"):
        load_settings(environ=both)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"COVERWATCH_SLACK__BOT_TOKEN": "xoxb"},
            r"^slack\.signing_secret: required.*"
            r"COVERWATCH_SLACK__SIGNING_SECRET",
        ),
        (
            {"COVERWATCH_SLACK__BOT_TOKEN": "xoxb", "COVERWATCH_SLACK__MODE": "socket"},
            r"^slack\.app_token: required",
        ),
        ({"COVERWATCH_SLACK__SIGNING_SECRET": "s"}, r"^slack\.bot_token: required"),
        ({"COVERWATCH_WEBHOOK__URL": "https://hooks.test/x"}, r"^webhook\.secret: required"),
        ({"COVERWATCH_WECOM__CORP_ID": "ww1"}, r"^wecom\.secret: required"),
        ({"COVERWATCH_DINGTALK__CLIENT_ID": "ding1"}, r"^dingtalk\.client_secret: required"),
    ],
)
def test_enabled_platform_needs_its_secrets(environ: dict[str, str], message: str) -> None:
    section = next(iter(environ)).split("__")[0].removeprefix("COVERWATCH_")
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={f"COVERWATCH_{section}__ENABLED": "true", **environ})


def test_enabled_platforms_load_when_complete() -> None:
    settings = load_settings(
        environ={
            "COVERWATCH_SLACK__ENABLED": "1",
            "COVERWATCH_SLACK__MODE": "socket",
            "COVERWATCH_SLACK__BOT_TOKEN": "xoxb-1",
            "COVERWATCH_SLACK__APP_TOKEN": "xapp-1",
            "COVERWATCH_DINGTALK__ENABLED": "true",
            "COVERWATCH_DINGTALK__CLIENT_ID": "dingabc",
            "COVERWATCH_DINGTALK__CLIENT_SECRET": "s3",
        }
    )
    assert settings.slack.enabled and settings.slack.mode == "socket"
    assert settings.dingtalk.effective_robot_code == "dingabc"


def test_secrets_never_show_in_repr() -> None:
    secrets = {
        "COVERWATCH_SLACK__BOT_TOKEN": "xoxb-topsecret",
        "COVERWATCH_WEBHOOK__SECRET": "hmac-topsecret",
        "COVERWATCH_WECOM__ENCODING_AES_KEY": "k" * 43,
        "COVERWATCH_DATABASE__URL": "postgresql+psycopg://bot:pw-topsecret@127.0.0.1/db",
    }
    settings = load_settings(environ=secrets)
    shown = repr(settings) + str(settings)
    assert "topsecret" not in shown and "k" * 43 not in shown
    assert settings.webhook.secret is not None
    assert settings.webhook.secret.get_secret_value() == "hmac-topsecret"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.http.port = 1


def test_example_loads_and_documents_defaults() -> None:
    example = load_settings(EXAMPLE, environ={})
    assert example.model_dump(exclude={"accounts"}) == Settings().model_dump(exclude={"accounts"})
    assert example.accounts["beijing"].housing_fund_rate == Decimal("0.12")


def _section_texts(text: str) -> dict[str, str]:
    """Each `[section]` (account tables under `accounts`) with its lines, comments included."""
    parts = re.split(r"^\[([a-z_.]+)\]$", text, flags=re.MULTILINE)
    sections: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        key = name.split(".")[0]
        sections[key] = sections.get(key, "") + body
    return sections


def test_example_covers_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    sections = _section_texts(text)
    for section, field in Settings.model_fields.items():
        assert section in sections, f"[{section}] missing from config.example.toml"
        model = field.annotation
        if section == "accounts":
            model = get_args(field.annotation)[1]
            present = raw["accounts"]["beijing"]
        else:
            present = raw[section]
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key, key_field in model.model_fields.items():
            env_hint = f"COVERWATCH_{section}__{key}".upper()
            documented = (
                key in present
                or re.search(rf"^# {key} = ", sections[section], flags=re.MULTILINE)
                or (SecretStr in get_args(key_field.annotation) and env_hint in sections[section])
            )
            assert documented, f"{section}.{key} is not documented in config.example.toml"


def test_enrollment_warning_days_reaches_the_scan_rules(tmp_path: Path) -> None:
    assert rules_from(Settings()).enrollment_warning_days == 7
    path = write(tmp_path, "[alerts]\nenrollment_warning_days = 3\n")
    assert rules_from(load_settings(path, environ={})).enrollment_warning_days == 3
    with pytest.raises(ConfigError, match=r"^alerts\.enrollment_warning_days"):
        load_settings(write(tmp_path, "[alerts]\nenrollment_warning_days = -1\n"), environ={})


def test_data_keys_come_from_the_environment_only(tmp_path: Path) -> None:
    key, old = new_key(), new_key()
    environ = {
        "COVERWATCH_SECURITY__DATA_KEY": key,
        "COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS": f'["{old}"]',
    }
    keys = load_settings(environ=environ).security.data_keys()
    assert keys is not None and keys.current_id == key_id(key)
    assert keys.ids == {key_id(key), key_id(old)}
    assert Settings().security.data_keys() is None
    assert load_settings(environ={"COVERWATCH_SECURITY__DATA_KEY": ""}).security.data_key is None
    for text in (
        f'[security]\ndata_key = "{key}"\n',
        f'[security]\nprevious_data_keys = ["{old}"]\n',
    ):
        with pytest.raises(
            ConfigError, match="set it in the environment as COVERWATCH_SECURITY__"
        ) as error:
            load_settings(write(tmp_path, text), environ={})
        assert key not in str(error.value) and old not in str(error.value)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"COVERWATCH_SECURITY__DATA_KEY": "hunter2-not-a-key"},
            r"^security\.data_key: must be a data key \(32 url-safe base64-encoded bytes\)",
        ),
        (
            {"COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS": '["hunter2-not-a-key"]'},
            r"^security\.previous_data_keys: must be a data key",
        ),
        (
            {"COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS": f'["{new_key()}"]'},
            r"^security\.data_key: required when previous_data_keys is set",
        ),
    ],
)
def test_a_bad_data_key_is_named_never_shown(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_settings(environ=environ)
    assert "hunter2" not in str(error.value)


def test_chat_workers_default_to_the_cores_but_sqlite_keeps_one_claimer() -> None:
    """Issue 18: `[chat] workers` unset is the cores minus one (at least 1) on PostgreSQL; on
    SQLite, which has one writer, chat is answered in `run` unless one process is asked for."""
    unset = Settings().chat
    assert unset.worker_processes(sqlite=False) == max(1, (os.cpu_count() or 1) - 1)
    assert unset.worker_processes(sqlite=True) == 0
    three = Settings.model_validate({"chat": {"workers": 3}}).chat
    assert (three.worker_processes(sqlite=False), three.worker_processes(sqlite=True)) == (3, 1)
    assert (
        Settings.model_validate({"chat": {"workers": 0}}).chat.worker_processes(sqlite=False) == 0
    )
