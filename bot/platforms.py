"""How each chat platform's config section becomes its adapter (the `factory` of its
`core.platforms.PlatformSpec` row). Each imports its adapter package only when called, so a
disabled platform's SDK is never loaded."""

from __future__ import annotations

from adapters.base import ChatAdapter
from bot.config import Settings


def secret(value: object) -> str:
    """A `SecretStr` (or plain value) as the string an SDK wants; "" when unset."""
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else str(value or "")


def slack_adapter(settings: Settings) -> ChatAdapter:
    from adapters.slack import SlackAdapter

    return SlackAdapter(
        bot_token=secret(settings.slack.bot_token),
        signing_secret=secret(settings.slack.signing_secret),
        app_token=secret(settings.slack.app_token),
        mode=settings.slack.mode,
        hr_groups=settings.slack.hr_groups,
        api_base_url=settings.slack.api_base_url,
    )


def dingtalk_adapter(settings: Settings) -> ChatAdapter:
    from adapters.dingtalk import DingTalkAdapter

    return DingTalkAdapter(
        client_id=settings.dingtalk.client_id or "",
        client_secret=secret(settings.dingtalk.client_secret),
        robot_code=settings.dingtalk.effective_robot_code or "",
        api_base_url=settings.dingtalk.api_base_url,
        gateway_url=settings.dingtalk.gateway_url,
        card_template_id=settings.dingtalk.card_template_id,
        locale=settings.bot.locale,
    )


def wecom_adapter(settings: Settings) -> ChatAdapter:
    from adapters.wecom import WeComAdapter

    return WeComAdapter(
        corp_id=settings.wecom.corp_id or "",
        secret=secret(settings.wecom.secret),
        agent_id=int(settings.wecom.agent_id or 0),
        token=secret(settings.wecom.token),
        encoding_aes_key=secret(settings.wecom.encoding_aes_key),
        hr_groups=settings.wecom.hr_groups,
        api_base_url=settings.wecom.api_base_url,
    )
