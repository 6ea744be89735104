"""Reply languages: the ones coverwatch speaks, and the many ways people and platforms name them.

Chat (`lang en`), platform language tags (`en-US`, `zh_CN`) and the employees file's `locale`
column all go through `normalize_locale`, so one spelling means the same everywhere. The
contract's defaults (`[bot] locale` and `timezone`, ARCHITECTURE.md §3) are named here once, so
every layer that needs a fallback imports them instead of re-spelling them.
"""

from __future__ import annotations

ZH_CN = "zh-CN"
EN = "en"
SUPPORTED_LOCALES = (ZH_CN, EN)
DEFAULT_LOCALE = ZH_CN
"""`[bot] locale` when unset, and the language of anyone whose language is unknown."""
DEFAULT_TIMEZONE = "Asia/Shanghai"
"""`[bot] timezone` when unset (an IANA name; quiet hours and due dates are read in it)."""

_ALIASES = {
    "zh": ZH_CN,
    "zh-cn": ZH_CN,
    "zh-hans": ZH_CN,
    "zh-hans-cn": ZH_CN,
    "cn": ZH_CN,
    "中文": ZH_CN,
    "en": EN,
    "english": EN,
    "英文": EN,
    "英语": EN,
}


def normalize_locale(value: str | None) -> str | None:
    """A supported locale for a user's or platform's language tag, or None when not supported.

    Platforms send `en-US`, `en_GB`, `zh_CN`; any English variant answers in `en` and any
    simplified-Chinese tag in `zh-CN`.
    """
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag in _ALIASES:
        return _ALIASES[tag]
    if tag.startswith("en-"):
        return EN
    if tag.startswith(("zh-cn", "zh-hans", "zh-sg")):
        return ZH_CN
    return None
