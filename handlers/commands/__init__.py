"""Every chat command of the contract (ARCHITECTURE.md §3 "Chat commands"), on one router."""

from __future__ import annotations

from handlers.commands import alerts, basics, company, hr, kpi, oncall, personal, silences
from handlers.router import Router


def build_router() -> Router:
    """A fresh router holding every command, in the order `help` lists them."""
    router = Router()
    for module in (basics, personal, company, alerts, silences, oncall, kpi, hr):
        router.include(module.router)
    return router
