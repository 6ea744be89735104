"""Which figures behind an account's dues are estimates (unconfirmed or provisional rules).

shared/reference/policies.md: low-confidence figures go in with `confirmed = false`, and a
band carried over until the new notice appears is `provisional`. Every amount computed from
such a rule is an estimate, and HR must be told so (`dues --json` "provisional", `≈` in chat).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.contributions import account_rules
from core.periods import Period
from core.policy import AccountSettings, Policy, Scheme


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """One scheme's rule in force that is not a confirmed, final figure."""

    scheme: Scheme
    effective: date
    provisional: bool
    confirmed: bool
    source: str

    def describe(self) -> str:
        state = "provisional" if self.provisional else "unconfirmed"
        return f"{self.scheme} from {self.effective.isoformat()} ({state}: {self.source})"


def estimates(policy: Policy, account: AccountSettings, period: Period) -> tuple[Estimate, ...]:
    """The estimated rules an account's dues for `period` use (empty: every figure confirmed).

    Only the schemes the account pays count (the housing fund when configured). Raises
    ValueError as `account_rules` does.
    """
    found = []
    for rule, _, _ in account_rules(policy, account, period).schemes:
        scheme = rule.scheme
        version = policy.version_for(scheme, period)
        if version is not None and (version.provisional or not version.confirmed):
            found.append(
                Estimate(
                    scheme=scheme,
                    effective=version.effective,
                    provisional=version.provisional,
                    confirmed=version.confirmed,
                    source=version.source,
                )
            )
    return tuple(found)


def unconfirmed_figures(policy: Policy) -> tuple[str, ...]:
    """Every figure of the policy that is unconfirmed or provisional, one line each, for
    `coverwatch policy check`: versions, the due rule and the suspension rule."""
    found = []
    for version in policy.versions:
        if version.confirmed and not version.provisional:
            continue
        state = "provisional" if version.provisional else "unconfirmed"
        schemes = ", ".join(str(scheme) for scheme in version.schemes)
        found.append(f"{policy.id} {schemes} from {version.effective}: {state} ({version.source})")
    if not policy.due.confirmed:
        found.append(f"{policy.id} due day {policy.due.day}: unconfirmed city practice")
    if policy.suspension is not None and not policy.suspension.confirmed:
        found.append(
            f"{policy.id} suspension {policy.suspension.suspend_after_days} days after the due "
            "date: unconfirmed city practice"
        )
    return tuple(found)
