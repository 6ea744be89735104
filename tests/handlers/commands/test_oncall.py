"""`oncall` / `值班`: the rotation now and next, and each account's owners, for everyone."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from core.oncall import Rotation
from handlers.context import AppContext
from tests.support.company import asker

# NOW in tests.support.company is 2025-06-25 (a Wednesday) in Shanghai.
ROTATION = Rotation(members=("E004", "E003"), shift_days=7, starts_on=date(2025, 6, 23))


def test_everyone_sees_who_is_on_call_and_the_owners(app: AppContext) -> None:
    configured = replace(app, rotation=ROTATION, account_owners={"beijing": ("E003", "E002")})
    ask = asker(configured)
    assert ask("E001", "值班").text.splitlines() == [
        "当前值班：陈六（E004）",
        "下一位：王五（E003），自 2025-06-30 起",
        "北京：王五（E003）、李四（E002）",
        "香港强积金：未指定负责人（由值班人处理，否则人事和财务）",
    ]
    english = ask("E001", "oncall", locale="en").text.splitlines()
    assert english[:2] == ["On call now: 陈六 (E004)", "Next: 王五 (E003) from 2025-06-30"]
    assert english[2].endswith(": 王五 (E003), 李四 (E002)")


def test_without_a_rotation_it_says_so(app: AppContext) -> None:
    lines = asker(app)("E001", "on call", locale="en").text.splitlines()
    assert lines[0] == "No on-call rotation is set ([oncall] members)."
    assert all(line.endswith("no owner (on-call, else HR and finance)") for line in lines[1:])
