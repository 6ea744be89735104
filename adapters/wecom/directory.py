"""WeCom UserIDs by mobile (`POST user/getuserid`, doc 95402) or, without one, by email
(`POST user/get_userid_by_email`, doc 95895). Both need the app's 通讯录 visibility to cover
the person and, for apps created after 2022-06-20, a trusted IP (企业可信IP) for the server
(https://developer.work.weixin.qq.com/document/path/95402)."""

from __future__ import annotations

import asyncio
from typing import Any

from wechatpy.exceptions import WeChatClientException  # type: ignore[import-untyped]

from adapters.base import DeliveryError, RateLimit
from adapters.directory import Contact, LookupFailed, LookupRefused, LookupThrottled
from adapters.wecom.client import RATE_LIMIT_BACKOFF_SECONDS, WeComClient

NOT_FOUND = frozenset({46004, 60111})  # 46004 指定的成员不存在, 60111 UserID 不存在
REFUSED = {
    60020: "this server's IP is not a trusted IP of the app (企业可信IP)",
    48002: "the app may not use this API (API接口无权限调用)",
    60011: "the person is outside the app's visibility (可见范围)",
    301002: "the app may not read that member",
}


class WeComDirectory:
    platform = "wecom"
    # Per company, one API may be called 10,000 times a minute (doc 90312 频率限制); a tenth of
    # that leaves room for the running bot.
    pace = RateLimit(scope="app", count=1000, seconds=60.0)

    def __init__(
        self, *, corp_id: str, secret: str, api_base_url: str, agent_id: int | None = None
    ) -> None:
        self._client = WeComClient(corp_id, secret, api_base_url=api_base_url, timeout=10.0)
        self._agent_id = agent_id

    def key_of(self, contact: Contact) -> str | None:
        return "mobile" if contact.mobile else "email" if contact.email else None

    async def lookup(self, contact: Contact) -> str | None:
        body: dict[str, Any]
        if contact.mobile:
            path, body = "user/getuserid", {"mobile": contact.mobile}
        else:
            path, body = "user/get_userid_by_email", {"email": contact.email, "email_type": 1}
        try:
            return await asyncio.to_thread(self._client.call, lambda: self._userid(path, body))
        except DeliveryError as exc:
            if exc.retry_after is not None:
                raise LookupThrottled(str(exc), retry_after=exc.retry_after) from None
            if "refused the app secret" in str(exc):
                raise LookupRefused("wecom: corp_id/secret refused (check [wecom])") from None
            raise LookupFailed(f"wecom: {exc}") from None
        except _Refused as exc:
            raise LookupRefused(str(exc)) from None

    def _userid(self, path: str, body: dict[str, Any]) -> str | None:
        try:
            answer = self._client.post(path, data=body)
        except WeChatClientException as exc:
            if exc.errcode in NOT_FOUND:
                return None
            if exc.errcode in REFUSED:
                raise _Refused(f"wecom: errcode {exc.errcode}: {REFUSED[exc.errcode]}") from None
            if exc.errcode == 45009:
                raise DeliveryError(
                    "wecom: errcode 45009", retry_after=RATE_LIMIT_BACKOFF_SECONDS
                ) from None
            raise
        return str(answer["userid"])

    async def verify(self) -> str:
        """`gettoken` for the corp id and secret, then `agent/get` for the agent id (doc 90227):
        a secret of another app of the same company passes gettoken but not this."""
        try:
            await asyncio.to_thread(self._client.call, self._client.fetch_access_token)
            if self._agent_id is None:
                return "access token issued"
            agent = await asyncio.to_thread(
                self._client.call,
                lambda: self._client.get("agent/get", params={"agentid": self._agent_id}),
            )
        except DeliveryError as exc:
            if exc.permanent:
                raise LookupRefused(
                    f"wecom: {exc} (check [wecom] corp_id, secret, agent_id)"
                ) from None
            raise LookupFailed(f"wecom: {exc}") from None
        return f"app {agent.get('name', self._agent_id)} (agent {self._agent_id})"

    async def close(self) -> None:
        return None


class _Refused(Exception):
    pass
