"""Masking of personal figures: ID numbers and salaries outside a private conversation.

ARCHITECTURE.md §2 "Secrets and PII": ID numbers and salaries are masked outside a direct chat
with their owner or HR; the contract (§3, employees file) says an ID number is only ever shown
masked, first six and last four characters kept (`110101********1234`), because the first six
name the issuing district and the last four are what people use to tell their own apart.
"""

from __future__ import annotations

from storage.employees import Person

AMOUNT_MASK = "***"
_SEE_PERSONAL_FIGURES = frozenset({"hr"})
"""Besides the owner, only HR may see another person's salary (and only in a direct chat)."""


def mask_id_number(id_number: str) -> str:
    """Keep the first 6 and last 4 characters; short values are masked entirely."""
    text = id_number.strip()
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_amount(_amount: object) -> str:
    """A salary or contribution base shown where it must not be read."""
    return AMOUNT_MASK


def may_reveal(*, viewer: Person, owner: Person, is_direct: bool) -> bool:
    """Personal figures are shown only in a direct chat, to their owner or to HR."""
    if not is_direct:
        return False
    return viewer.employee_id == owner.employee_id or viewer.role in _SEE_PERSONAL_FIGURES
