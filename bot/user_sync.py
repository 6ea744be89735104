"""`coverwatch sync users`: fill each employee's platform user id from their email or mobile.

The rules HR can rely on: an id already stored is never replaced by a different one without
`--force`; an id the platform gives for one person is never given to a second employee (the
employees file refuses that too); nobody found keeps what they had. Calls are paced to the
platform's documented limit, and a "too many calls" answer is waited out, then asked again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from adapters.directory import Contact, LookupFailed, LookupThrottled, UserDirectory
from bot.ratelimit import SlidingWindow
from storage.user_ids import Candidate

MAX_THROTTLED = 5
"""Throttled answers in a row for one person before their look-up is reported as an error."""


class Status(StrEnum):
    MATCHED = "matched"
    """Found and stored (the employee had no id)."""
    UNCHANGED = "unchanged"
    """Found, and the same id was stored already."""
    REPLACED = "replaced"
    """Found a different id than the stored one, replaced with `--force`."""
    CONFLICT = "conflict"
    """Found a different id than the stored one, or one another employee holds: not stored."""
    NOT_FOUND = "not_found"
    NO_CONTACT = "no_contact"
    """No email/mobile this platform can look up."""
    ERROR = "error"


STORED = frozenset({Status.MATCHED, Status.REPLACED})


@dataclass(frozen=True, kw_only=True)
class Outcome:
    employee_id: str
    status: Status
    user_id: str | None = None
    """The id the platform gave (also for a conflict)."""
    previous: str | None = None
    reason: str | None = None


async def sync_users(
    directory: UserDirectory,
    candidates: Sequence[Candidate],
    in_use: Mapping[str, str],
    *,
    force: bool,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Look every candidate up; what to store is each outcome with a status in `STORED`.

    :raises LookupRefused: credentials or permissions refused (nothing can succeed).
    """
    holders = dict(in_use)
    window = SlidingWindow(directory.pace.count, directory.pace.seconds)
    outcomes = []
    for done, person in enumerate(candidates):
        if progress is not None:
            progress(done, len(candidates))
        contact = Contact(email=person.email, mobile=person.mobile)
        key = directory.key_of(contact)
        if key is None:
            outcomes.append(Outcome(employee_id=person.employee_id, status=Status.NO_CONTACT))
            continue
        try:
            found = await _lookup(directory, contact, window, clock, sleep)
        except LookupFailed as exc:
            outcomes.append(_outcome(person, Status.ERROR, reason=str(exc)))
            continue
        outcome = _decide(person, found, holders, force=force, key=key)
        if outcome.status in STORED and outcome.user_id is not None:
            if person.current is not None:
                holders.pop(person.current, None)
            holders[outcome.user_id] = person.employee_id
        outcomes.append(outcome)
    if progress is not None:
        progress(len(candidates), len(candidates))
    return outcomes


async def _lookup(
    directory: UserDirectory,
    contact: Contact,
    window: SlidingWindow,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
) -> str | None:
    for _ in range(MAX_THROTTLED):
        wait = window.wait(clock())
        if wait > 0:
            await sleep(wait)
        window.add(clock())
        try:
            return await directory.lookup(contact)
        except LookupThrottled as exc:
            await sleep(exc.retry_after)
    raise LookupFailed(f"{directory.platform}: still rate-limited after {MAX_THROTTLED} tries")


def _decide(
    person: Candidate, found: str | None, holders: Mapping[str, str], *, force: bool, key: str
) -> Outcome:
    if found is None:
        return _outcome(person, Status.NOT_FOUND, reason=f"nobody with this {key}")
    holder = holders.get(found)
    if holder is not None and holder != person.employee_id:
        return _outcome(person, Status.CONFLICT, found, reason=f"{found} belongs to {holder}")
    if person.current == found:
        return _outcome(person, Status.UNCHANGED, found)
    if person.current is None:
        return _outcome(person, Status.MATCHED, found)
    if force:
        return _outcome(person, Status.REPLACED, found)
    return _outcome(
        person, Status.CONFLICT, found, reason=f"stored {person.current}; --force replaces it"
    )


def _outcome(
    person: Candidate, status: Status, found: str | None = None, *, reason: str | None = None
) -> Outcome:
    return Outcome(
        employee_id=person.employee_id,
        status=status,
        user_id=found,
        previous=person.current,
        reason=reason,
    )
