"""`coverwatch run`'s log lines: one zone with its offset, APScheduler's chatter at DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from bot.config import LogConfig
from bot.logs import DemoteFilter, JsonFormatter, ZonedFormatter, configure_logging

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON_UTC = 1_796_126_400.25  # 2026-12-01T12:00:00.250Z


def record(name: str, level: int, message: str) -> logging.LogRecord:
    entry = logging.LogRecord(name, level, __file__, 1, message, None, None)
    entry.created = NOON_UTC
    return entry


def test_timestamps_are_in_the_configured_zone_with_offset() -> None:
    line = ZonedFormatter("%(asctime)s %(message)s", SHANGHAI).format(
        record("bot", logging.INFO, "hi")
    )
    assert line == "2026-12-01T20:00:00.250+08:00 hi"


def test_json_lines_carry_the_same_time() -> None:
    entry = json.loads(JsonFormatter(None, SHANGHAI).format(record("bot", logging.INFO, "扫描")))
    assert entry == {
        "time": "2026-12-01T20:00:00.250+08:00",
        "level": "INFO",
        "logger": "bot",
        "message": "扫描",
    }


@pytest.mark.parametrize(
    ("level", "name", "shown"),
    [
        (logging.INFO, "apscheduler.scheduler", False),
        (logging.DEBUG, "apscheduler.scheduler", True),
        (logging.INFO, "bot.scheduling", True),
    ],
)
def test_apscheduler_info_is_debug(level: int, name: str, shown: bool) -> None:
    entry = record(name, logging.INFO, "Added job")
    assert DemoteFilter(level).filter(entry) is shown
    assert DemoteFilter(logging.INFO).filter(record(name, logging.WARNING, "x"))


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_configure_logging_routes_everything_through_one_handler() -> None:
    handler = configure_logging(LogConfig(level="info"), "Asia/Shanghai")
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    handler.setStream(stream)
    logging.getLogger("apscheduler.scheduler").info("Scheduler started")
    logging.getLogger("bot.scheduling").info("scan: opened 1")
    logging.getLogger("urllib3").debug("GET /cgi-bin/gettoken?corpsecret=s3cret")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith("+08:00 INFO bot.scheduling: scan: opened 1")
