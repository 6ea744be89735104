"""What every API handler needs: the app, the import targets, the limits."""

from __future__ import annotations

from dataclasses import dataclass

from bot.api.auth import TokenRates
from bot.app import ImportTargets
from bot.config import MAX_BODY_BYTES
from handlers.context import AppContext


@dataclass(frozen=True)
class ApiService:
    context: AppContext
    targets: ImportTargets
    rates: TokenRates
    max_body_bytes: int = MAX_BODY_BYTES
