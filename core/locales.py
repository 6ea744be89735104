"""Reply languages: the ones coverwatch speaks, and the many ways people and platforms name them.

Chat (`lang en`), platform language tags (`en-US`, `zh_CN`) and the employees file's `locale`
column all go through `normalize_locale`, so one spelling means the same everywhere.
"""

from __future__ import annotations

SUPPORTED_LOCALES = ("zh-CN", "en")

_ALIASES = {
    "zh": "zh-CN",
    "zh-cn": "zh-CN",
    "zh-hans": "zh-CN",
    "zh-hans-cn": "zh-CN",
    "cn": "zh-CN",
    "中文": "zh-CN",
    "en": "en",
    "english": "en",
    "英文": "en",
    "英语": "en",
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
        return "en"
    if tag.startswith(("zh-cn", "zh-hans", "zh-sg")):
        return "zh-CN"
    return None
