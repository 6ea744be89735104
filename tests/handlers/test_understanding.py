"""Real phrasings (zh-CN, zh-HK, en) and the command each must reach on the full router; and
sentences that must get the hint, not a guess. Today is 2026-12-04 for "this month"."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.commands import build_router
from handlers.router import Router

TODAY = date(2026, 12, 4)
ROUTER: Router = build_router()

REACHES: list[tuple[str, str, tuple[str, ...]]] = [
    # zh-CN: one's own cover
    ("我的社保", "coverage", ()),
    ("社保", "coverage", ()),
    ("我的医保", "coverage", ()),
    ("医保", "coverage", ()),
    ("我的社保状态", "coverage", ()),
    ("我的社保正常吗？", "coverage", ()),
    ("我有没有参保", "coverage", ()),
    ("我参保了吗", "coverage", ()),
    ("我被停保了吗", "coverage", ()),
    ("我的社保断缴了吗", "coverage", ()),
    ("查一下我的医保", "coverage", ()),
    ("看看我的社保", "coverage", ()),
    ("医保还能用吗", "coverage", ()),
    # zh-CN: one's own money
    ("我这个月交了多少社保", "contributions", ("2026-12",)),
    ("这个月社保扣了多少", "contributions", ("2026-12",)),
    ("上个月交了多少社保", "contributions", ("2026-11",)),
    ("我10月交了多少", "contributions", ("2026-10",)),
    ("2026年10月缴费明细", "contributions", ("2026-10",)),
    ("缴费明细", "contributions", ()),
    ("缴费明细 2026-10", "contributions", ("2026-10",)),
    ("我的缴费明细", "contributions", ()),
    ("公积金", "contributions", ()),
    ("我的公积金交了多少", "contributions", ()),
    ("社保缴费明细", "contributions", ()),
    ("个人缴了多少", "contributions", ()),
    ("我每个月交多少社保", "contributions", ()),
    # zh-CN: company
    ("待缴", "dues", ()),
    ("公司这个月要交多少社保", "dues", ("2026-12",)),
    ("本月应缴", "dues", ("2026-12",)),
    ("欠费", "arrears", ()),
    ("哪些账户欠费了", "arrears", ()),
    ("滞纳金多少", "arrears", ()),
    ("告警", "alerts", ()),
    ("查看告警", "alerts", ()),
    ("有什么告警", "alerts", ()),
    ("待处理的警报", "alerts", ()),
    ("绩效", "kpi", ()),
    ("上个月绩效", "kpi", ("2026-11",)),
    ("绩效 2026-10", "kpi", ("2026-10",)),
    ("按时缴费率是多少", "kpi", ()),
    ("帮助", "help", ()),
    ("你能做什么", "help", ()),
    ("怎么用", "help", ()),
    ("查 E0200", "who", ("E0200",)),
    ("查E0200", "who", ("E0200",)),
    ("查一下 E0200", "who", ("E0200",)),
    ("E0200 参保了吗", "who", ("E0200",)),
    ("E0200的社保", "who", ("E0200",)),
    ("参保 E0200", "enroll", ("E0200",)),
    ("参保 E0200 2026-12-01", "enroll", ("E0200", "2026-12-01")),
    ("增员 E0200", "enroll", ("E0200",)),
    ("减员 E0013 2026-12-31", "leave", ("E0013", "2026-12-31")),
    ("确认 4", "ack", ("4",)),
    ("确认4", "ack", ("4",)),
    ("分期 2 3", "plan", ("2", "3")),
    # zh-HK (Traditional, Hong Kong usage)
    ("我的強積金", "contributions", ()),
    ("我嘅強積金", "contributions", ()),
    ("強積金供款", "contributions", ()),
    ("今個月供咗幾多", "contributions", ("2026-12",)),
    ("上個月供款幾多", "contributions", ("2026-11",)),
    ("繳費明細", "contributions", ()),
    ("我的醫保", "coverage", ()),
    ("醫保狀態", "coverage", ()),
    ("我有冇社保", "coverage", ()),
    ("我有冇保障", "coverage", ()),
    ("待繳", "dues", ()),
    ("欠費", "arrears", ()),
    ("滯納金幾多", "arrears", ()),
    ("有冇告警", "alerts", ()),
    ("績效", "kpi", ()),
    ("幫助", "help", ()),
    ("語言 繁體", "lang", ("繁体",)),
    ("參保 E0200", "enroll", ("E0200",)),
    ("減員 E0013 2026-12-31", "leave", ("E0013", "2026-12-31")),
    ("確認 4", "ack", ("4",)),
    # en
    ("coverage", "coverage", ()),
    ("my coverage", "coverage", ()),
    ("am I insured?", "coverage", ()),
    ("is my insurance active", "coverage", ()),
    ("my social insurance", "coverage", ()),
    ("am I covered", "coverage", ()),
    ("contribution", "contributions", ()),
    ("my contribution", "contributions", ()),
    ("my mpf", "contributions", ()),
    ("MPF", "contributions", ()),
    ("how much did I pay this month", "contributions", ("2026-12",)),
    ("how much was deducted last month", "contributions", ("2026-11",)),
    ("my housing fund", "contributions", ()),
    ("contributions 2026-10", "contributions", ("2026-10",)),
    ("what do we owe this month", "dues", ("2026-12",)),
    ("dues", "dues", ()),
    ("which accounts are overdue", "arrears", ()),
    ("late fees", "arrears", ()),
    ("any alerts?", "alerts", ()),
    ("show me the alerts", "alerts", ()),
    ("kpi", "kpi", ()),
    ("kpi last month", "kpi", ("2026-11",)),
    ("what can you do", "help", ()),
    ("help", "help", ()),
    ("who E0200", "who", ("E0200",)),
    ("look up e0200", "who", ("E0200",)),
    ("enroll E0200 2026-12-01", "enroll", ("E0200", "2026-12-01")),
    ("leave E0013 2026-12-31", "leave", ("E0013", "2026-12-31")),
    ("lang zh-HK", "lang", ("zh-HK",)),
    ("/coverwatch my mpf", "contributions", ()),
]

HINT = [
    "你好",
    "谢谢",
    "哈哈",
    "在吗",
    "今天天气怎么样",
    "我要请假",
    "报销怎么弄",
    "工资什么时候发",
    "年假还有几天",
    "E0200",
    "123",
    "开会",
    "早晨",
    "唔該",
    "hello",
    "thanks",
    "what's up",
    "lunch?",
    "asdf",
    "book a meeting room",
    "when is payday",
    "salary",
    "vacation days left",
    "ok",
]


def test_the_table_is_big_enough() -> None:
    assert len(REACHES) >= 80
    assert len({text for text, _, _ in REACHES}) == len(REACHES)


@pytest.mark.parametrize(("text", "command", "args"), REACHES)
def test_phrasing_reaches_its_command(text: str, command: str, args: tuple[str, ...]) -> None:
    matched = ROUTER.match(text, today=TODAY)
    assert matched is not None, text
    assert (matched[0].name, matched[1]) == (command, args)


@pytest.mark.parametrize("text", HINT)
def test_small_talk_gets_the_hint_not_a_guess(text: str) -> None:
    assert ROUTER.match(text, today=TODAY) is None


@pytest.mark.parametrize("text", ["我要离职", "给 E0200 参保吧", "E0200 离职了", "告警 4 知道了"])
def test_a_change_is_never_guessed(text: str) -> None:
    """A change needs its command word; a sentence without one is at most a question."""
    matched = ROUTER.match(text, today=TODAY)
    assert matched is None or matched[0].name not in {"enroll", "leave", "ack", "snooze", "plan"}
