"""Every log record made safe where it is made: no secrets, no full ID numbers, no bodies.

Installed as the process's log-record factory when coverwatch's outer package is imported, so
it holds whoever configures the handlers (`coverwatch run`, the CLI, a test's capture, a
process that turns the SDKs' DEBUG on). Three rules:
- the HTTP clients and Bolt (`WIRE`) log request lines and bodies at DEBUG: WeCom's
  `corpsecret` rides in the `gettoken` query string, slack_sdk prints reply bodies (salary
  bases), Bolt prints the body of a rejected request. Their messages keep the method, path and
  status only: query strings and everything from the first "body" on are dropped;
- values are redacted everywhere: full mainland ID numbers (GB 11643) are masked as chat masks
  them, Slack tokens, `Bearer` credentials and `secret=`/`token=`/`data_key=`-style pairs are
  replaced;
- control characters are escaped, so a value such as `"\\n2026-12-04 … ERROR …"` cannot forge
  a log line (OWASP Logging Cheat Sheet, "log injection").
`redact` is also applied by the handlers `configure_logging` installs, to the formatted line
(tracebacks included), as a last line of defence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from handlers.masking import mask_id_number

WIRE = ("urllib3", "slack_sdk", "slack_bolt", "httpx", "httpcore", "wechatpy", "aiohttp.client")
"""Loggers that write requests and responses on the wire."""
_FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_SECRETS = re.compile(
    r"(?P<slack>xox[abpre]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)"
    r"|(?P<bearer>(?i:bearer)\s+)[^\s'\",]+"
    r"|(?P<pair>(?i:corpsecret|secret|access_token|token|client_secret|appsecret|password"
    r"|data_key|encoding_aes_key)"
    r"[\"']?\s*[=:]\s*[\"']?)[^\s&'\",}]+"
)
_QUERY = re.compile(r"\?[^\s\"']*")
_BODY = re.compile(r"(?i)\b(json_body|body_params|body|data)\b")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
REDACTED = "[redacted]"


def _secret(match: re.Match[str]) -> str:
    if match.group("slack"):
        return match.group("slack")[:5] + REDACTED
    return (match.group("bearer") or match.group("pair")) + REDACTED


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}")


def redact(text: str) -> str:
    """Mask ID numbers and replace credentials (a whole formatted line may pass through)."""
    return _SECRETS.sub(_secret, _FULL_ID.sub(lambda m: mask_id_number(m.group()), text))


def clean(text: str) -> str:
    """One logged value made safe: redacted, and control characters escaped."""
    return _CONTROL.sub(_escape, redact(text))


def wire_summary(text: str) -> str:
    """A client's request or response line without its query string and body."""
    body = _BODY.search(text)
    kept = text[: body.start()] + "body omitted" if body else text
    return _QUERY.sub("?…", kept)


def _clean_arg(value: Any) -> Any:
    return clean(value) if isinstance(value, str) else value


def make_safe(record: logging.LogRecord) -> None:
    """Rewrite `record` in place; args keep their shape (uvicorn's access formatter reads them)."""
    if record.name.startswith(WIRE):
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = clean(wire_summary(message)), ()
        return
    if not record.args:
        record.msg = clean(record.msg) if isinstance(record.msg, str) else record.msg
        return
    if isinstance(record.msg, str):
        # A format string: credentials are redacted in its arguments, never here (replacing
        # `token=%s` would orphan an argument); ID numbers and control characters are safe to.
        record.msg = _CONTROL.sub(
            _escape, _FULL_ID.sub(lambda m: mask_id_number(m.group()), record.msg)
        )
    if isinstance(record.args, Mapping):
        record.args = {key: _clean_arg(value) for key, value in record.args.items()}
    elif record.args:
        record.args = tuple(_clean_arg(value) for value in record.args)


class _SafeFactory:
    """The previous record factory, followed by `make_safe`."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        make_safe(record)
        return record


def install() -> None:
    """Make every record safe from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _SafeFactory):
        logging.setLogRecordFactory(_SafeFactory(current))
