"""The chat platforms, as one table: a new platform is a row here plus its adapter package.

Each row says, as data, what the layers around an adapter need to know about its platform:
the config section, where its adapter is built, the `Employee` column holding a person's user
id on it (alert routing, finding the employee behind a chat user) and the section's key that
lists HR group chats.

The table lives in core because storage reads it and storage may import neither bot nor
adapters (bot → adapters → handlers → storage → core, tests/test_architecture.py). So the
factory is named by its import path rather than held as a callable: `bot.wiring` resolves it,
and only for an enabled platform, so a disabled platform's SDK is never imported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class PlatformSpec:
    name: str
    """The platform id everywhere: `Message.platform`, a delivery's platform, metric labels."""
    section: str
    """The config section (`[slack]`): `enabled`, credentials, `hr_groups`."""
    factory: str
    """`module:function` that builds the adapter from the settings (resolved by bot.wiring)."""
    user_id_column: str
    """The `Employee` column with a person's user id on this platform."""
    group_setting: str = "hr_groups"
    """The section's key listing the HR group chats that hear every first notice."""


PLATFORMS: tuple[PlatformSpec, ...] = (
    PlatformSpec(
        name="slack",
        section="slack",
        factory="bot.platforms:slack_adapter",
        user_id_column="slack_user_id",
    ),
    PlatformSpec(
        name="dingtalk",
        section="dingtalk",
        factory="bot.platforms:dingtalk_adapter",
        user_id_column="dingtalk_user_id",
    ),
    PlatformSpec(
        name="wecom",
        section="wecom",
        factory="bot.platforms:wecom_adapter",
        user_id_column="wecom_user_id",
    ),
)
CONSOLE = "console"
"""Stands in for the chat platforms when none is enabled; its user ids are employee ids."""

_BY_NAME = {spec.name: spec for spec in PLATFORMS}


def platform_spec(name: str) -> PlatformSpec | None:
    """The row of a chat platform; None for the console, the webhook or an unknown name."""
    return _BY_NAME.get(name)
