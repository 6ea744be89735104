"""Matching forgives what chat clients add; registration refuses ambiguity."""

from __future__ import annotations

import pytest

from handlers.router import Router, normalize
from handlers.types import Reply


def make_router() -> Router:
    router = Router()

    @router.command("coverage", "我的医保", "医保状态", help_key="k", usage_key="u")
    def coverage(_request: object) -> Reply:
        return Reply(text="c")

    @router.command("contributions", "缴费明细", help_key="k", usage_key="u", args=(0, 1))
    def contributions(_request: object) -> Reply:
        return Reply(text="b")

    return router


@pytest.mark.parametrize(
    "text",
    [
        "coverage",
        "Coverage",
        "COVERAGE?",
        "  coverage  ",
        "coverage？",
        "ｃｏｖｅｒａｇｅ",
        "/coverwatch coverage",
        "/Coverwatch   coverage ?",
        "我的医保",
        "我的医保？",
        "\u3000医保状态\u3000",
    ],
)
def test_match_is_tolerant(text: str) -> None:
    matched = make_router().match(text)
    assert matched is not None
    assert matched[0].name == "coverage"
    assert matched[1] == ()


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("contributions 2025-06", ("2025-06",)),
        ("缴费明细 2025-06", ("2025-06",)),
        ("缴费明细\u30002025-06", ("2025-06",)),
        ("缴费明细2025-06", ("2025-06",)),
        ("/coverwatch contributions 2025-06?", ("2025-06",)),
    ],
)
def test_arguments_follow_the_command(text: str, args: tuple[str, ...]) -> None:
    matched = make_router().match(text)
    assert matched is not None
    assert matched[0].name == "contributions"
    assert matched[1] == args


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("我的医保状态?", "coverage", ()),
        ("my coverage", "coverage", ()),
        ("show me my coverage please", "coverage", ()),
        ("my contributions for 2026-10", "contributions", ("2026-10",)),
        ("请查询缴费明细 2026-10", "contributions", ("2026-10",)),
        ("我的缴费明细2026-10", "contributions", ("2026-10",)),
    ],
)
def test_natural_phrasings_reach_the_command(text: str, name: str, args: tuple[str, ...]) -> None:
    matched = make_router().match(text)
    assert matched is not None
    assert (matched[0].name, matched[1]) == (name, args)


def test_extra_words_still_get_the_usage_hint() -> None:
    matched = make_router().match("coverage of everyone")
    assert matched is not None and matched[1] == ("of", "everyone")


@pytest.mark.parametrize("text", ["", "   ", "?", "/coverwatch", "overage", "my", "我的"])
def test_no_match(text: str) -> None:
    assert make_router().match(text) is None


def test_an_alias_cannot_be_registered_twice() -> None:
    router = make_router()
    with pytest.raises(ValueError, match="already registered"):
        router.command("cover", "Coverage", help_key="k", usage_key="u")(lambda _r: Reply(text=""))


def test_include_keeps_registration_order() -> None:
    merged = Router()
    merged.include(make_router())
    assert [c.name for c in merged] == ["coverage", "contributions"]
    assert merged.get("contributions") is not None
    assert merged.get("nope") is None


def test_normalize_folds_width_case_and_prefix() -> None:
    assert normalize("／ＣＯＶＥＲＷＡＴＣＨ　Ｈｅｌｐ？") == "Help"
