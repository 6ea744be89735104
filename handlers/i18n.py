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

from core.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES, normalize_locale

__all__ = ["DEFAULT_LOCALE", "SUPPORTED_LOCALES", "normalize_locale"]

LOCALE_DIR = Path(__file__).with_name("locales")


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
