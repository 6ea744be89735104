"""One rule for language tags, shared by chat (`lang`), platforms and the employees import."""

from __future__ import annotations

import pytest

from core.locales import ZH_CN, normalize_locale


@pytest.mark.parametrize(
    ("tag", "locale"),
    [("zh", ZH_CN), ("zh_CN", ZH_CN), ("zh-Hans", ZH_CN), ("中文", ZH_CN),
     ("en", "en"), ("en-US", "en"), ("en_GB", "en"), ("English", "en"),
     ("zh-HK", "zh-HK"), ("zh_TW", "zh-HK"), ("zh-Hant-HK", "zh-HK"), ("繁體", "zh-HK"),
     ("繁体", "zh-HK")],
)  # fmt: skip
def test_spellings_map_to_a_supported_locale(tag: str, locale: str) -> None:
    assert normalize_locale(tag) == locale


@pytest.mark.parametrize("tag", ["", None, "fr", "ja-JP", "klingon"])
def test_unsupported_tags_are_none(tag: str | None) -> None:
    assert normalize_locale(tag) is None
