"""The demo company's people: ~200 employees, generated from a fixed seed around "today".

Stable on every run (seeded `random.Random`), realistic enough to read: Chinese names in
Beijing and Shanghai, English names in Hong Kong, department managers, HR and finance staff,
chat ids on some people, mainland ID numbers with a valid GB 11643 check digit. Dates are
placed relative to `today`, so the story (one new hire not enrolled yet) holds on any day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TypedDict

from bot.demo_story import LATE_HIRE_DAYS_AGO
from core.periods import Period

SEED = 2026
HISTORY_MONTHS = 5
"""Months of dues the demo holds: this month and the four before it."""
NEW_HIRE_DAYS_AGO = 24
"""Six days before the 30-day registration deadline (社会保险法 Art. 58): inside the warning."""

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌宇浩然欣怡子涵梓轩雨萱晨阳思远佳琪"
EN_FIRST: tuple[str, ...] = (
    "Grace",
    "Karen",
    "Michael",
    "Jason",
    "Emily",
    "Kelvin",
    "Winnie",
    "Eric",
)
EN_FIRST += ("Vivian", "Alan", "Joyce", "Ivan", "Cathy", "Derek", "Fiona", "Raymond", "Tony")
EN_FIRST += ("Stephanie", "Yvonne", "Patrick", "Mandy", "Kenneth", "Sharon", "Vincent")
HK_SURNAMES: tuple[str, ...] = (
    "Chan",
    "Wong",
    "Lee",
    "Cheung",
    "Lau",
    "Ng",
    "Ho",
    "Leung",
    "Tang",
    "Yip",
)
HK_SURNAMES += ("Lam", "Chow", "Tsang", "Kwok")
REGION_CODES = {"beijing": "110105", "shanghai": "310115"}

# (department, manager id, {account: weight}, monthly salary range, share of staff)
DEPARTMENTS = (
    ("研发部", "E0002", {"beijing": 7, "shanghai": 3}, (15000, 45000), 0.30),
    ("销售部", "E0005", {"beijing": 4, "shanghai": 6}, (8000, 30000), 0.20),
    ("市场部", "E0006", {"beijing": 3, "shanghai": 7}, (10000, 28000), 0.10),
    ("运营部", "E0007", {"beijing": 6, "shanghai": 4}, (6000, 20000), 0.12),
    ("人力资源部", "E0003", {"beijing": 1}, (9000, 22000), 0.03),
    ("财务部", "E0004", {"shanghai": 1}, (10000, 25000), 0.04),
    ("香港业务部", "E0008", {"hk": 1}, (22000, 60000), 0.21),
)
ROLE_OF_DEPARTMENT = {"人力资源部": "hr", "财务部": "finance"}


@dataclass(frozen=True, kw_only=True)
class Person:
    employee_id: str
    name: str
    department: str
    manager_id: str | None
    account: str
    hire_date: date
    enrolled_on: date | None
    salary: Decimal
    role: str = "employee"
    slack_user_id: str | None = None
    dingtalk_user_id: str | None = None
    wecom_user_id: str | None = None
    locale: str | None = None
    id_number: str | None = None
    leave_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class Cast:
    """Who the guide introduces."""

    hr: str
    finance: str
    manager: str
    employee: str
    """A Beijing engineer whose dues are all paid."""
    at_risk: str
    """A Shanghai employee: the account is overdue, so their cover is at risk."""
    hk_employee: str
    new_hire: str
    """Hired a few weeks ago, not enrolled yet, inside the 30-day deadline."""
    late_hire: str
    """Hired longer ago, not enrolled, past the deadline."""
    leaver: str


def id_number(rng: random.Random, account: str) -> str | None:
    """A mainland resident ID (GB 11643-1999 check digit); HK staff show their HKID instead."""
    if account not in REGION_CODES:
        digits = "".join(rng.choice("0123456789") for _ in range(6))
        return f"{rng.choice('ACDEGHKPRZ')}{digits}({rng.randint(0, 9)})"
    born = date(1965, 1, 1) + timedelta(days=rng.randint(0, 35 * 365))
    body = f"{REGION_CODES[account]}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _name(rng: random.Random, account: str) -> tuple[str, str | None]:
    """(name, locale): Hong Kong staff and a few mainland expats write in English."""
    if account == "hk" or rng.random() < 0.04:
        return f"{rng.choice(EN_FIRST)} {rng.choice(HK_SURNAMES)}", "en"
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return rng.choice(SURNAMES) + given, None


class ChatIds(TypedDict):
    slack_user_id: str | None
    dingtalk_user_id: str | None
    wecom_user_id: str | None


def _chat_ids(rng: random.Random, number: int) -> ChatIds:
    """Some people use Slack, some DingTalk, some WeCom; the rest only the console."""
    slack = "U0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(9))
    return ChatIds(
        slack_user_id=slack if rng.random() < 0.4 else None,
        dingtalk_user_id=f"ding{number:06d}" if rng.random() < 0.3 else None,
        wecom_user_id=f"wx{number:05d}" if rng.random() < 0.3 else None,
    )


def _salary(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low, high, 100))


def _key_people(rng: random.Random, hired: date) -> list[Person]:
    rows = [
        ("E0001", "陈建国", "总经办", None, "beijing", "admin", 90000, None),
        ("E0002", "李伟", "研发部", "E0001", "beijing", "manager", 62000, None),
        ("E0003", "王芳", "人力资源部", "E0001", "beijing", "hr", 38000, None),
        ("E0004", "张敏", "财务部", "E0001", "shanghai", "finance", 41000, None),
        ("E0005", "刘洋", "销售部", "E0001", "shanghai", "manager", 45000, None),
        ("E0006", "杨静", "市场部", "E0001", "shanghai", "manager", 40000, None),
        ("E0007", "黄磊", "运营部", "E0001", "beijing", "manager", 36000, None),
        ("E0008", "Grace Wong", "香港业务部", "E0001", "hk", "manager", 95000, "en"),
    ]
    return [
        Person(
            employee_id=employee_id,
            name=name,
            department=department,
            manager_id=manager,
            account=account,
            hire_date=hired - timedelta(days=30 * index),
            enrolled_on=hired - timedelta(days=30 * index),
            salary=Decimal(salary),
            role=role,
            locale=locale,
            id_number=id_number(rng, account),
            **_chat_ids(rng, index + 1),
        )
        for index, (employee_id, name, department, manager, account, role, salary, locale) in (
            enumerate(rows)
        )
    ]


def build_company(today: date, *, size: int = 200, seed: int = SEED) -> tuple[list[Person], Cast]:
    """Everyone employed by the demo company, ordered by employee id, and the guide's cast."""
    rng = random.Random(seed)
    window_start = Period.of(today).shift(1 - HISTORY_MONTHS).first_day
    people = _key_people(rng, date(2016, 3, 1))
    departments = [d for d in DEPARTMENTS for _ in range(round(d[4] * 100))]
    for number in range(len(people) + 1, size):
        department, manager, weights, (low, high), _share = rng.choice(departments)
        account = rng.choices(list(weights), weights=list(weights.values()))[0]
        name, locale = _name(rng, account)
        if number % 31 == 0:  # a few joined during the months on screen
            hired = window_start + timedelta(days=rng.randint(0, 60))
        else:
            hired = date(2017, 1, 1) + timedelta(
                days=rng.randint(0, (window_start - date(2017, 1, 1)).days - 1)
            )
        people.append(
            Person(
                employee_id=f"E{number:04d}",
                name=name,
                department=department,
                manager_id=manager,
                account=account,
                hire_date=hired,
                enrolled_on=hired + timedelta(days=rng.randint(0, 7)),
                salary=_salary(rng, low, high),
                role=ROLE_OF_DEPARTMENT.get(department, "employee"),
                locale=locale,
                id_number=id_number(rng, account),
                **_chat_ids(rng, number),
            )
        )
    leaver_index = next(i for i, p in enumerate(people) if i > 20 and p.role == "employee")
    leaver = people[leaver_index]
    left = Period.of(today).shift(-2).day(20)
    people[leaver_index] = Person(**{**leaver.__dict__, "leave_date": left})
    new_hire = Person(
        employee_id=f"E{size:04d}",
        name="赵子轩",
        department="研发部",
        manager_id="E0002",
        account="beijing",
        hire_date=today - timedelta(days=NEW_HIRE_DAYS_AGO),
        enrolled_on=None,
        salary=Decimal(21000),
        id_number=id_number(rng, "beijing"),
    )
    people.append(new_hire)
    # The last one generated becomes a hire past the 30-day registration deadline.
    late_hire = Person(
        **{
            **people[-2].__dict__,
            "hire_date": today - timedelta(days=LATE_HIRE_DAYS_AGO),
            "enrolled_on": None,
            "leave_date": None,
        }
    )
    people[-2] = late_hire

    def settled(account: str, manager: str | None = None) -> str:
        """A long-serving plain employee on `account` (under `manager`), for the guide."""
        return next(
            p.employee_id
            for p in people
            if p.account == account
            and p.role == "employee"
            and p.enrolled_on is not None
            and p.enrolled_on < window_start
            and p.leave_date is None
            and manager in (None, p.manager_id)
        )

    cast = Cast(
        hr="E0003",
        finance="E0004",
        manager="E0002",
        employee=settled("beijing", "E0002"),
        at_risk=settled("shanghai"),
        hk_employee=settled("hk"),
        new_hire=new_hire.employee_id,
        late_hire=late_hire.employee_id,
        leaver=leaver.employee_id,
    )
    return people, cast
