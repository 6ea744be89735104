"""What people mean when they do not type a command word: `我的社保`, `my mpf`, `今個月供咗幾多`.

The router tries the command words first; only text that fits none of them comes here. A
phrase is a set of words that must all appear; the first phrase that fits wins, so the more
specific ones come first (`公司` + `交` is the company's dues before `交了多少` is one's own).
Only questions are guessed: a change (`enroll`, `leave`, `ack`, …) always needs its command
word. Traditional characters are folded to Simplified before matching, so zh-HK needs no
second table.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from core.periods import Period

TRADITIONAL = str.maketrans(
    "醫險費繳績幫語積強細員減參態狀個麼這號單證認確暫緩額資務戶餘覽當級設與請問們還給"
    "為會沒於實說時間從對應幾過關開並無齊節權條總計劃療滯納報處標碼轉體簡樣嗎發錢離職"
    "斷舉",
    "医险费缴绩帮语积强细员减参态状个么这号单证认确暂缓额资务户余览当级设与请问们还给"
    "为会没于实说时间从对应几过关开并无齐节权条总计划疗滞纳报处标码转体简样吗发钱离职"
    "断举",
)
"""Traditional → Simplified for the characters our command words and phrases use."""


@dataclass(frozen=True)
class Phrase:
    command: str
    words: tuple[str, ...]
    """Every word must appear in the (folded, casefolded) text."""


def _phrases(command: str, *alternatives: str) -> list[Phrase]:
    """`"a+b"` means both `a` and `b`; each alternative is one phrase."""
    return [Phrase(command, tuple(alt.split("+"))) for alt in alternatives]


PHRASES: tuple[Phrase, ...] = (
    *_phrases(
        "help", "帮助", "怎么用", "能做什么", "能问什么", "可以问", "what can you", "how do i use"
    ),
    # The company's money before one's own: "公司这个月要交多少社保" is dues.
    *_phrases(
        "dues", "公司+交", "公司+缴", "应缴", "待缴", "company+owe", "we+owe", "company+pay", "dues"
    ),
    *_phrases("arrears", "欠费", "欠缴", "滞纳金", "arrears", "late fee", "overdue"),
    *_phrases("alerts", "告警", "警报", "alert", "待处理"),
    *_phrases("kpi", "绩效", "指标", "kpi", "按时缴费率", "performance"),
    *_phrases("oncall", "值班", "on call", "oncall", "on-call"),
    *_phrases(
        "who",
        "查+@id",
        "who+@id",
        "look up+@id",
        "lookup+@id",
        "@id+参保",
        "@id+社保",
        "@id+医保",
        "@id+cover",
        "@id+status",
    ),
    *_phrases(
        "contributions",
        "交了多少",
        "缴了多少",
        "扣了多少",
        "交多少",
        "缴多少",
        "供咗",
        "供款",
        "明细",
        "公积金",
        "强积金",
        "mpf",
        "contribution",
        "deduct",
        "how much+pa",
        "breakdown",
        "housing fund",
    ),
    *_phrases(
        "coverage",
        "社保",
        "医保",
        "参保",
        "停保",
        "断缴",
        "保障",
        "insured",
        "insurance",
        "cover",
        "social security",
        "suspended",
    ),
)

EMPLOYEE_ID = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,3}[0-9]{2,})(?![A-Za-z0-9])")
"""What an employee id looks like in a sentence (`E0200`, `hk123`)."""
_MONTH = re.compile(r"(?<![0-9])([0-9]{4})\s*(?:-|/|\.|年)\s*([0-9]{1,2})(?:\s*月)?(?![0-9])")
_BARE_MONTH = re.compile(r"(?<![0-9])([0-9]{1,2})\s*月")
_THIS_MONTH = ("这个月", "本月", "今个月", "今月", "this month", "current month")
_LAST_MONTH = ("上个月", "上月", "last month", "previous month")
PERIOD_COMMANDS = frozenset({"contributions", "dues", "kpi"})


def fold(text: str) -> str:
    return text.translate(TRADITIONAL)


def understand(
    text: str, today: date | None, known: Collection[str]
) -> tuple[str, tuple[str, ...]] | None:
    """The command (one of `known`) a sentence asks for and its arguments, or None (the hint)."""
    lowered = fold(text).casefold()
    found_id = EMPLOYEE_ID.search(text)
    for phrase in PHRASES:
        if phrase.command not in known or not all(
            _has(lowered, word, found_id is not None) for word in phrase.words
        ):
            continue
        if phrase.command == "who":
            assert found_id is not None
            return phrase.command, (found_id.group(1).upper(),)
        if phrase.command in PERIOD_COMMANDS:
            period = mentioned_period(lowered, today)
            return phrase.command, () if period is None else (str(period),)
        return phrase.command, ()
    return None


def _has(lowered: str, word: str, has_id: bool) -> bool:
    return has_id if word == "@id" else word in lowered


def mentioned_period(lowered: str, today: date | None) -> Period | None:
    """A month named in the text: `2026-10`, `2026年10月`, `10月`, `这个月`, `last month`."""
    if (found := _MONTH.search(lowered)) is not None:
        year, month = int(found.group(1)), int(found.group(2))
        return Period(year, month) if 1 <= month <= 12 else None
    if today is None:
        return None
    this = Period.of(today)
    if any(word in lowered for word in _THIS_MONTH):
        return this
    if any(word in lowered for word in _LAST_MONTH):
        return this.prev()
    if (found := _BARE_MONTH.search(lowered)) is not None and 1 <= int(found.group(1)) <= 12:
        month = int(found.group(1))
        return Period(this.year if month <= this.month else this.year - 1, month)
    return None
