"""`coverwatch sync users`: ids found by email/mobile on each platform's loopback fake; never
overwrites a different id without --force; matched / not found / conflict per employee; the
platforms' rate-limit answers are waited out and asked again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from adapters.dingtalk.directory import DingTalkDirectory
from adapters.directory import UserDirectory
from adapters.slack.directory import SlackDirectory
from adapters.wecom.directory import WeComDirectory
from bot.cli import app
from bot.user_sync import Outcome, Status, sync_users
from storage.user_ids import Candidate
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.slack import FakeSlack
from tests.fakes.wecom import FakeWeCom
from tests.support.cli import TODAY, company, write

BOT_TOKEN = "xoxb-sync-test"
CONTACTS = """\
employee_id,name,account,hire_date,salary,email,mobile
H001,王芳,beijing,2020-01-06,30000,wang.fang@example.com,13800000001
M001,李伟,beijing,2019-03-01,50000,li.wei@example.com,13800000002
E001,张三,beijing,2021-05-10,20000,zhang.san@example.com,13800000003
E002,李四,shanghai,2022-02-01,15000,,
E003,Karen Chan,hk,2023-01-01,30000,karen@example.com,+85291234567
"""


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/sync.db"
    company(db, tmp_path)
    path = write(tmp_path, "contacts.csv", CONTACTS)
    result = run(db, {}, "import", "employees", str(path))
    assert result.exit_code == 0, result.output
    with create_engine(db).begin() as connection:  # E003 already has an id of their own
        connection.execute(
            text(
                "UPDATE employee SET slack_user_id='UOLD003', dingtalk_user_id='old003', "
                "wecom_user_id='old003' WHERE employee_id='E003'"
            )
        )
    return db


def run(url: str, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", url, "--today", TODAY, *args], env=env)


def ids(url: str, column: str) -> dict[str, str | None]:
    with create_engine(url).connect() as connection:
        rows = connection.execute(text(f"SELECT employee_id, {column} FROM employee"))
        return {employee_id: value for employee_id, value in rows}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=BOT_TOKEN) as fake:
        fake.users_by_email = {
            "wang.fang@example.com": "U001",
            "li.wei@example.com": "U002",
            "karen@example.com": "U003",  # E003 has UOLD003 stored: a conflict
        }
        yield fake


def slack_env(fake: FakeSlack, token: str = BOT_TOKEN) -> dict[str, str]:
    return {"COVERWATCH_SLACK__BOT_TOKEN": token, "COVERWATCH_SLACK__API_BASE_URL": fake.api_url}


def test_slack_matched_not_found_conflict(url: str, slack: FakeSlack) -> None:
    result = run(url, slack_env(slack), "sync", "users", "--platform", "slack")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "E001: not_found (nobody with this email)",
        "E003: conflict U003 (stored UOLD003; --force replaces it)",
        "H001: matched U001",
        "M001: matched U002",
        "sync users slack: 2 matched, 0 unchanged, 0 replaced, 1 conflict, 1 not found, "
        "1 no contact, 0 error",
    ]
    stored = ids(url, "slack_user_id")
    assert (stored["H001"], stored["M001"], stored["E003"]) == ("U001", "U002", "UOLD003")
    assert stored["E001"] is None and stored["E002"] is None
    again = run(url, slack_env(slack), "sync", "users", "--platform", "slack", "--json")
    counts = json.loads(again.stdout)["counts"]
    assert (counts["unchanged"], counts["matched"], counts["conflict"]) == (2, 0, 1)


def test_slack_force_replaces_and_dry_run_stores_nothing(url: str, slack: FakeSlack) -> None:
    dry = run(url, slack_env(slack), "sync", "users", "--platform", "slack", "--dry-run", "--force")
    assert dry.stdout.splitlines()[-1].startswith("dry run, nothing stored: sync users slack: ")
    assert "E003: replaced U003" in dry.stdout
    assert ids(url, "slack_user_id")["E003"] == "UOLD003"
    forced = run(url, slack_env(slack), "sync", "users", "--platform", "slack", "--force")
    assert forced.exit_code == 0
    assert ids(url, "slack_user_id")["E003"] == "U003"


def test_an_id_another_employee_holds_is_a_conflict(url: str, slack: FakeSlack) -> None:
    slack.users_by_email["zhang.san@example.com"] = "UOLD003"  # E003's stored id
    result = run(url, slack_env(slack), "sync", "users", "--platform", "slack", "--force")
    assert "E001: conflict UOLD003 (UOLD003 belongs to E003)" in result.stdout
    assert ids(url, "slack_user_id")["E001"] is None


def test_a_wrong_token_is_one_line_and_stores_nothing(url: str, slack: FakeSlack) -> None:
    result = run(url, slack_env(slack, "xoxb-wrong"), "sync", "users", "--platform", "slack")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: slack: the bot token is invalid (invalid_auth); nothing stored\n"
    )
    assert ids(url, "slack_user_id")["H001"] is None


def test_missing_credentials_and_platform(url: str) -> None:
    result = run(url, {}, "sync", "users", "--platform", "dingtalk")
    assert result.stderr == (
        "error: [dingtalk] client_id is not set (or COVERWATCH_DINGTALK__CLIENT_ID)\n"
    )
    result = run(url, {}, "sync", "users", "--platform", "teams")
    assert (
        result.stderr == "error: --platform: expected one of slack, dingtalk, wecom, got 'teams'\n"
    )


@pytest.fixture
def dingtalk() -> Iterator[FakeDingTalk]:
    fake = FakeDingTalk()
    fake.users_by_mobile = {"13800000001": "manager0001", "+85291234567": "karen"}
    fake.start()
    yield fake
    fake.stop()


def test_dingtalk_by_mobile(url: str, dingtalk: FakeDingTalk) -> None:
    env = {
        "COVERWATCH_DINGTALK__CLIENT_ID": dingtalk.client_id,
        "COVERWATCH_DINGTALK__CLIENT_SECRET": dingtalk.client_secret,
        "COVERWATCH_DINGTALK__API_BASE_URL": dingtalk.base_url,
    }
    result = run(url, env, "sync", "users", "--platform", "dingtalk", "--json")
    assert result.exit_code == 0, result.output
    statuses = {e["employee_id"]: e["status"] for e in json.loads(result.stdout)["employees"]}
    assert statuses == {
        "H001": "matched",
        "M001": "not_found",
        "E001": "not_found",
        "E002": "no_contact",
        "E003": "conflict",
    }
    assert ids(url, "dingtalk_user_id")["H001"] == "manager0001"
    bad = run(
        url, env | {"COVERWATCH_DINGTALK__CLIENT_SECRET": "wrong"}, "sync", "users",
        "--platform", "dingtalk",
    )  # fmt: skip
    assert bad.exit_code == 1 and "client_id/client_secret refused" in bad.stderr


@pytest.fixture
def wecom(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeCom]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeWeCom(corp_id="wwcorp", secret="wecom-secret", agent_id=1000002, users=frozenset())
    fake.mobiles = {"13800000002": "LiWei", "+85291234567": "KarenChan"}
    fake.emails = {"wang.fang@example.com": "WangFang"}
    with fake.running():
        yield fake


def test_wecom_by_mobile_then_email(url: str, wecom: FakeWeCom) -> None:
    env = {
        "COVERWATCH_WECOM__CORP_ID": "wwcorp",
        "COVERWATCH_WECOM__SECRET": "wecom-secret",
        "COVERWATCH_WECOM__API_BASE_URL": wecom.base_url,
    }
    result = run(url, env, "sync", "users", "--platform", "wecom", "--json")
    assert result.exit_code == 0, result.output
    found = {
        e["employee_id"]: (e["status"], e["user_id"])
        for e in json.loads(result.stdout)["employees"]
    }
    assert found["M001"] == ("matched", "LiWei")  # by mobile
    assert found["E003"] == ("conflict", "KarenChan")  # old003 is stored
    assert found["H001"] == ("not_found", None)  # has a mobile, so asked by mobile only
    assert ids(url, "wecom_user_id")["M001"] == "LiWei"
    asked = [c.body for c in wecom.calls if c.api == "user/getuserid"]
    assert {"mobile": "13800000001"} in asked and not wecom.calls_to("user/get_userid_by_email")


def test_wecom_email_when_there_is_no_mobile(wecom: FakeWeCom) -> None:
    directory = WeComDirectory(corp_id="wwcorp", secret="wecom-secret", api_base_url=wecom.base_url)
    person = Candidate(employee_id="H001", email="wang.fang@example.com", mobile=None, current=None)
    [outcome] = asyncio.run(sync_users(directory, [person], {}, force=False))
    assert (outcome.status, outcome.user_id) == (Status.MATCHED, "WangFang")
    assert wecom.calls_to("user/get_userid_by_email")[0].body["email"] == "wang.fang@example.com"


def sync_one(directory: UserDirectory, person: Candidate) -> tuple[Outcome, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    [outcome] = asyncio.run(sync_users(directory, [person], {}, force=False, sleep=sleep))
    return outcome, waits


PERSON = Candidate(
    employee_id="H001", email="wang.fang@example.com", mobile="13800000001", current=None
)


def test_slack_429_is_waited_out(slack: FakeSlack) -> None:
    slack.fail_next("users.lookupByEmail", status=429, error="ratelimited", retry_after=7)
    directory = SlackDirectory(bot_token=BOT_TOKEN, api_base_url=slack.api_url)
    outcome, waits = sync_one(directory, PERSON)
    assert (outcome.status, outcome.user_id, waits) == (Status.MATCHED, "U001", [7.0])
    assert len(slack.calls_to("users.lookupByEmail")) == 2


def test_dingtalk_90002_is_waited_out(dingtalk: FakeDingTalk) -> None:
    dingtalk.throttle_next = 1
    directory = DingTalkDirectory(
        client_id=dingtalk.client_id,
        client_secret=dingtalk.client_secret,
        api_base_url=dingtalk.base_url,
    )
    outcome, waits = sync_one(directory, PERSON)
    assert (outcome.status, outcome.user_id, waits) == (Status.MATCHED, "manager0001", [2.0])
    assert len(dingtalk.throttled) == 1


def test_wecom_45009_is_waited_out(wecom: FakeWeCom) -> None:
    wecom.throttle_lookups = 1
    wecom.mobiles["13800000001"] = "WangFang"
    directory = WeComDirectory(corp_id="wwcorp", secret="wecom-secret", api_base_url=wecom.base_url)
    outcome, waits = sync_one(directory, PERSON)
    assert (outcome.status, outcome.user_id, waits) == (Status.MATCHED, "WangFang", [60.0])


def test_calls_are_paced_to_the_documented_limit(slack: FakeSlack) -> None:
    """Slack's Tier 3 is 50 a minute: the 51st look-up waits for the window to open."""
    directory = SlackDirectory(bot_token=BOT_TOKEN, api_base_url=slack.api_url)
    people = [
        Candidate(employee_id=f"E{i:03d}", email="wang.fang@example.com", mobile=None, current=None)
        for i in range(51)
    ]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    outcomes = asyncio.run(
        sync_users(directory, people, {}, force=False, clock=lambda: 100.0, sleep=sleep)
    )
    assert waits == [60.0]
    assert [o.status for o in outcomes].count(Status.CONFLICT) == 50  # one id, one holder
