"""Employee look-ups by chat identity, through the one platform table (core.platforms)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Engine

from core.locales import ZH_CN
from core.platforms import CONSOLE, PLATFORMS
from storage.db import session_scope
from storage.employees import by_platform_user, locale_for, platform_address, set_locale
from storage.models import Account, Employee


def _seed(engine: Engine) -> None:
    """E1 has an id on every platform and chose English at import; E2 has none."""
    with session_scope(engine) as session:
        session.add(Account(id="beijing", policy_id="beijing", currency="CNY"))
        session.flush()
        ids = {"slack_user_id": "U1", "dingtalk_user_id": "ding1", "wecom_user_id": "zhangsan"}
        for employee_id, extra in (("E1", {**ids, "locale": "en"}), ("E2", {})):
            person = Employee(
                employee_id=employee_id,
                name=employee_id,
                account_id="beijing",
                hire_date=date(2024, 1, 2),
                salary=Decimal("20000.00"),
            )
            for column, value in extra.items():
                setattr(person, column, value)
            session.add(person)


def test_each_platform_finds_the_employee_by_its_own_column(engine: Engine) -> None:
    _seed(engine)
    ids = {"slack": "U1", "dingtalk": "ding1", "wecom": "zhangsan"}
    assert {spec.name for spec in PLATFORMS} == set(ids)
    with session_scope(engine) as session:
        for platform, user_id in ids.items():
            found = by_platform_user(session, platform, user_id)
            assert found is not None and found.employee_id == "E1"
            assert platform_address(found, platform) == user_id
            # Another platform's id is not this platform's.
            other = next(uid for name, uid in ids.items() if name != platform)
            assert by_platform_user(session, platform, other) is None
        console = by_platform_user(session, CONSOLE, "E2")
        assert console is not None and platform_address(console, CONSOLE) == "E2"
        assert [platform_address(console, spec.name) for spec in PLATFORMS] == [None] * 3
        assert platform_address(console, "webhook") is None


def test_the_reply_language_is_the_choice_then_the_import_then_the_default(
    engine: Engine,
) -> None:
    _seed(engine)
    with session_scope(engine) as session:
        first, second = session.get(Employee, "E1"), session.get(Employee, "E2")
        assert first is not None and second is not None
        assert (locale_for(session, first, ZH_CN), locale_for(session, second, "xx")) == (
            "en",
            "xx",
        )
        set_locale(session, "E1", ZH_CN)
        session.flush()
        assert locale_for(session, first, "en") == ZH_CN
