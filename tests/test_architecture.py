"""Dependency direction (bot → adapters → handlers → storage → core) and a clock-free core.

Checked on the syntax tree of every module, so a lazy import inside a function or a
`datetime.now()` deep in a helper is caught as well as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.locales import DEFAULT_TIMEZONE, ZH_CN

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = ("core", "storage", "handlers", "adapters", "bot")
FORBIDDEN_IMPORTS = {
    "core": {"bot", "adapters", "handlers", "storage"},
    "storage": {"bot", "adapters", "handlers"},
    "handlers": {"bot", "adapters"},
}
# core is pure: no database, web or chat frameworks either.
CORE_FORBIDDEN_LIBRARIES = {
    "sqlalchemy", "sqlmodel", "alembic", "psycopg", "httpx", "starlette", "uvicorn",
    "aiohttp", "slack_bolt", "slack_sdk", "dingtalk_stream", "wechatpy", "typer", "requests",
}  # fmt: skip
CLOCK_CALLS = {
    "datetime.now", "datetime.utcnow", "datetime.today", "date.today",
    "time.time", "time.time_ns", "time.monotonic", "time.perf_counter",
}  # fmt: skip
CLOCK_FUNCTIONS_OF_TIME = {"time", "time_ns", "monotonic", "perf_counter"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_roots(tree: ast.AST) -> set[str]:
    """Top-level package of every absolute import in the tree."""
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def clock_uses(tree: ast.AST) -> list[str]:
    """Clock reads: `datetime.now()`, `dt.datetime.now()`, `from time import time`, …"""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (name := dotted(node.func)):
            if any(name == call or name.endswith("." + call) for call in CLOCK_CALLS):
                found.append(f"line {node.lineno}: {name}()")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            for alias in node.names:
                if alias.name in CLOCK_FUNCTIONS_OF_TIME:
                    found.append(f"line {node.lineno}: from time import {alias.name}")
    return found


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_dependency_direction(package: str) -> None:
    assert modules(package), f"no modules found under {package}/"
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in sorted(imported_roots(parse(path)) & FORBIDDEN_IMPORTS[package])
    ]
    assert violations == []


def test_core_imports_no_frameworks() -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("core")
        for name in sorted(imported_roots(parse(path)) & CORE_FORBIDDEN_LIBRARIES)
    ]
    assert violations == []


def test_core_never_reads_the_clock() -> None:
    violations = [
        f"{path.relative_to(ROOT)} {use}"
        for path in modules("core")
        for use in clock_uses(parse(path))
    ]
    assert violations == []


DEFAULTS_MODULE = ROOT / "core" / "locales.py"
SPELLED_ONCE = {ZH_CN: "core.locales.ZH_CN", DEFAULT_TIMEZONE: "core.locales.DEFAULT_TIMEZONE"}


def spelled_defaults(tree: ast.AST, spellings: set[str]) -> list[str]:
    """String constants that re-spell a default named in core.locales."""
    return [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in spellings
    ]


@pytest.mark.parametrize("package", [*PACKAGES, "bench", "tests"])
def test_the_default_locale_and_time_zone_are_spelled_once(package: str) -> None:
    # A test's company may well be in Shanghai (a zone is scenario data there); the locale is
    # the language's name, which only core.locales spells.
    spellings = {ZH_CN} if package == "tests" else set(SPELLED_ONCE)
    violations = [
        f"{path.relative_to(ROOT)} {use} (use {', '.join(SPELLED_ONCE[v] for v in spellings)})"
        for path in modules(package)
        if path != DEFAULTS_MODULE
        for use in spelled_defaults(parse(path), spellings)
    ]
    assert violations == []


# The checks themselves must be able to fail.
def test_defaults_check_sees_constants_not_prose() -> None:
    source = f'"""Replies in {ZH_CN}."""\nLOCALE = "{ZH_CN}"\nZONE = ZoneInfo("{DEFAULT_TIMEZONE}")'
    found = spelled_defaults(ast.parse(source), set(SPELLED_ONCE))
    assert found == [f"line 2: {ZH_CN!r}", f"line 3: {DEFAULT_TIMEZONE!r}"]


def test_import_check_sees_every_import_form() -> None:
    source = (
        "import storage.db\nfrom handlers import x\ndef f():\n    import bot\nfrom . import y\n"
    )
    assert imported_roots(ast.parse(source)) == {"storage", "handlers", "bot"}


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\ndatetime.now()",
        "import datetime as dt\ndt.datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "import time\ndef f():\n    return time.monotonic()",
        "import time\ntime.time()",
        "from time import monotonic",
    ],
)
def test_clock_check_catches(source: str) -> None:
    assert clock_uses(ast.parse(source))


def test_clock_check_allows_time_as_an_argument() -> None:
    source = (
        "from datetime import date\ndef f(as_of: date) -> date:\n    return as_of.replace(day=1)"
    )
    assert clock_uses(ast.parse(source)) == []
