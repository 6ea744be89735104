"""What an adapter knows about its link to the platform, for `/readyz` and `/metrics`.

A capability, like the others in `adapters.base`: an adapter that keeps a connection open (the
DingTalk Stream, Slack Socket Mode) reports whether it is up; one the platform calls over HTTP
has no link to report and does not implement it. The runtime asks every adapter the same
question and names none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, kw_only=True)
class LinkState:
    up: bool
    detail: str
    """Why, in a few words: `connected`, `connection failed (ConnectError)`, `not started`."""


@runtime_checkable
class LinkProbe(Protocol):
    def link_state(self) -> LinkState:
        """The adapter's last knowledge of its connection; no I/O, never raises."""
