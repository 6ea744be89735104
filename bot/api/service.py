"""What every API handler needs: the app, the import targets, the limits."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api.auth import TokenRates
from bot.app import ImportTargets
from handlers.context import AppContext

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""`[http] max_body_bytes` (ARCHITECTURE.md §3): 10,000 payment items are about 1 MB."""


@dataclass(frozen=True)
class ApiService:
    context: AppContext
    targets: ImportTargets
    rates: TokenRates
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
