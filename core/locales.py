"""Reply languages: the ones coverwatch speaks, and the many ways people and platforms name them.

Chat (`lang en`), platform language tags (`en-US`, `zh_CN`) and the employees file's `locale`
column all go through `normalize_locale`, so one spelling means the same everywhere. The
contract's defaults (`[bot] locale` and `timezone`, ARCHITECTURE.md §3) are named here once, so
every layer that needs a fallback imports them instead of re-spelling them.
"""

from __future__ import annotations

ZH_CN = "zh-CN"
ZH_HK = "zh-HK"
"""Traditional characters and Hong Kong usage (強積金, 供款); also for zh-TW and zh-Hant."""
EN = "en"
SUPPORTED_LOCALES = (ZH_CN, ZH_HK, EN)
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
    "简体": ZH_CN,
    "zh-hk": ZH_HK,
    "zh-tw": ZH_HK,
    "zh-mo": ZH_HK,
    "zh-hant": ZH_HK,
    "hk": ZH_HK,
    "繁體": ZH_HK,
    "繁体": ZH_HK,
    "繁體中文": ZH_HK,
    "繁体中文": ZH_HK,
    "廣東話": ZH_HK,
    "traditional": ZH_HK,
    "en": EN,
    "english": EN,
    "英文": EN,
    "英语": EN,
}


def normalize_locale(value: str | None) -> str | None:
    """A supported locale for a user's or platform's language tag, or None when not supported.

    Platforms send `en-US`, `en_GB`, `zh_CN`, `zh-TW`; any English variant answers in `en`, any
    simplified-Chinese tag in `zh-CN` and any traditional one (HK, TW, Hant) in `zh-HK`.
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
    if tag.startswith(("zh-hk", "zh-tw", "zh-mo", "zh-hant")):
        return ZH_HK
    return None
