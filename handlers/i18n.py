"""The one message catalog: every user-visible string, in zh-CN (the default) and en.

Strings live in `handlers/locales/<locale>.toml` (nested tables flatten to dotted keys) and are
loaded once. Placeholders are `str.format` fields; a test keeps the two catalogs in step, key
for key and placeholder for placeholder, so a reply can never fall back half-translated.
"""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LOCALE_DIR = Path(__file__).with_name("locales")
DEFAULT_LOCALE = "zh-CN"
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


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every catalog, keyed by locale, flattened to dotted keys (read once per process)."""
    loaded: dict[str, dict[str, str]] = {}
    for locale in SUPPORTED_LOCALES:
        with (LOCALE_DIR / f"{locale}.toml").open("rb") as handle:
            loaded[locale] = _flatten(tomllib.load(handle))
    return loaded


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def translate(locale: str, key: str, /, **values: object) -> str:
    """The catalog string for `key` in `locale` (the default locale when unsupported)."""
    catalog = catalogs().get(locale) or catalogs()[DEFAULT_LOCALE]
    return catalog[key].format(**values)


def has_key(key: str) -> bool:
    return key in catalogs()[DEFAULT_LOCALE]


def placeholders(template: str) -> set[str]:
    """The named fields a catalog string expects."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
