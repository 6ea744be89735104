"""The message catalog: both languages complete and in step, and locale tags understood."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.locales import ZH_CN
from handlers.i18n import catalogs, normalize_locale, placeholders, translate

HANDLERS = Path(__file__).parents[2] / "handlers"


def test_both_catalogs_have_the_same_keys() -> None:
    zh, en = catalogs()[ZH_CN], catalogs()["en"]
    assert set(zh) == set(en)
    assert len(zh) > 100


def test_every_string_has_the_same_placeholders_in_both_languages() -> None:
    zh, en = catalogs()[ZH_CN], catalogs()["en"]
    different = {key for key in zh if placeholders(zh[key]) != placeholders(en[key])}
    assert different == set()


def test_every_literal_key_used_in_the_code_exists() -> None:
    """A key typo would otherwise surface as a KeyError (an apology) in production."""
    pattern = re.compile(r'"((?:[a-z_]+\.)+[a-z_]+)"')
    used = {
        key
        for path in HANDLERS.rglob("*.py")
        for key in pattern.findall(path.read_text(encoding="utf-8"))
        if not key.startswith(("handlers.", "storage.", "core."))
    }
    assert used - set(catalogs()["en"]) == set()
    assert len(used) > 60


def test_translate_fills_placeholders_in_each_language() -> None:
    assert translate("en", "alert.not_found", id=12) == "There is no alert #12 in your scope."
    assert translate(ZH_CN, "alert.not_found", id=12) == "你负责的范围内没有编号为 12 的告警。"


def test_an_unsupported_locale_falls_back_to_the_default() -> None:
    assert translate("fr", "format.none") == "无"


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("zh", ZH_CN),
        ("zh_CN", ZH_CN),
        ("zh-Hans", ZH_CN),
        ("中文", ZH_CN),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_locale(tag: str | None, locale: str | None) -> None:
    assert normalize_locale(tag) == locale
