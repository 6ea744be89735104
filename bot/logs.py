"""Logging for `coverwatch run`: one time zone, quiet libraries, one line per event.

Every timestamp is in `[bot] timezone` with its UTC offset (`2026-12-04T18:02:11.052+08:00`),
so lines from our code, uvicorn and the SDKs never mix UTC and CST. APScheduler's INFO lines
(start-up, "Added job", "Running job JobRunner._tick" every minute) say nothing our own
job line does not, so they are demoted to DEBUG; the job's own line names it and its result.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import LogConfig
from bot.log_safety import redact

DEMOTED = ("apscheduler",)
"""Loggers whose INFO lines are DEBUG to us."""
CHATTY = ("urllib3", "slack_sdk", "slack_bolt", "httpx", "httpcore")
"""At DEBUG these log request lines and bodies: WeCom's corpsecret in the gettoken query
(urllib3) and reply bodies with contribution bases (slack_sdk). Never below INFO."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ZonedFormatter(logging.Formatter):
    """ISO 8601 timestamps with milliseconds and offset in one zone."""

    def __init__(self, fmt: str | None, zone: ZoneInfo) -> None:
        super().__init__(fmt)
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, self.zone)
        return moment.isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        """The line, tracebacks included, redacted once more (bot.log_safety)."""
        return redact(super().format(record))


class JsonFormatter(ZonedFormatter):
    """One JSON object per line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class DemoteFilter(logging.Filter):
    """Turn the INFO lines of `DEMOTED` loggers into DEBUG ones, dropped unless DEBUG is on."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.name.startswith(DEMOTED):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.level


def configure_logging(config: LogConfig, timezone: str) -> logging.Handler:
    """Route every logger (ours, uvicorn's, the SDKs') through one stderr handler."""
    zone = ZoneInfo(timezone)
    level = logging.getLevelName(config.level)
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter(None, zone) if config.format == "json" else ZonedFormatter(TEXT_FORMAT, zone)
    )
    handler.addFilter(DemoteFilter(level))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    return handler
