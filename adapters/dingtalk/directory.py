"""DingTalk userids by mobile: `POST /topapi/v2/user/getbymobile?access_token=` on the oapi host
(permission `qyapi_get_member_by_mobile`, 根据手机号获取成员基本信息权限;
https://open.dingtalk.com/document/orgapp/query-users-by-phone-number). The token is the
internal app's from `/v1.0/oauth2/accessToken`, as for every other call (`OpenApi`)."""

from __future__ import annotations

import time

import httpx

from adapters.base import DeliveryError, RateLimit
from adapters.dingtalk.adapter import PUBLIC_API, oapi_url_for
from adapters.dingtalk.openapi import OpenApi
from adapters.directory import Contact, LookupFailed, LookupRefused, LookupThrottled

PATH = "/topapi/v2/user/getbymobile"
NOT_FOUND = frozenset({60121})  # 找不到该用户 (also: the person has left)
INVALID_MOBILE = frozenset({40104, 400002})
TOKEN_ERRORS = frozenset({40001, 40014, 42001, 88})
THROTTLED = frozenset({90002, 90018, -1})  # too many calls / 系统繁忙
NO_PERMISSION = frozenset({60011, 60020, 88, 400008})
THROTTLE_DELAY = 2.0


class DingTalkDirectory:
    platform = "dingtalk"
    # 20 calls per second per app for server APIs
    # (https://open.dingtalk.com/document/orgapp/invocation-frequency-limit).
    pace = RateLimit(scope="app", count=20, seconds=1.0)

    def __init__(self, *, client_id: str, client_secret: str, api_base_url: str = PUBLIC_API):
        self._http = httpx.AsyncClient(timeout=10.0)
        self._api = OpenApi(
            client_id=client_id,
            client_secret=client_secret,
            base_url=api_base_url,
            http=self._http,
            clock=time.monotonic,
        )
        self._url = oapi_url_for(api_base_url).rstrip("/") + PATH

    def key_of(self, contact: Contact) -> str | None:
        return "mobile" if contact.mobile else None

    async def lookup(self, contact: Contact) -> str | None:
        for attempt in range(2):
            try:
                token = await self._api.access_token(refresh=attempt > 0)
            except DeliveryError as exc:
                if exc.permanent:
                    raise LookupRefused(
                        "dingtalk: client_id/client_secret refused (check [dingtalk])"
                    ) from None
                raise LookupFailed(str(exc)) from None
            try:
                response = await self._http.post(
                    self._url, params={"access_token": token}, json={"mobile": contact.mobile}
                )
            except httpx.TransportError as exc:
                raise LookupFailed(f"dingtalk: {type(exc).__name__}") from None
            if response.status_code == 429:
                raise LookupThrottled("dingtalk: HTTP 429", retry_after=THROTTLE_DELAY)
            data = response.json() if response.content else {}
            code = int(data.get("errcode", -1 if response.status_code >= 500 else 0))
            if code == 0:
                return str(data["result"]["userid"])
            if code in TOKEN_ERRORS and attempt == 0:
                continue
            return self._failure(code, str(data.get("errmsg", "")))
        raise LookupRefused("dingtalk: a fresh access token was refused")

    @staticmethod
    def _failure(code: int, message: str) -> None:
        if code in NOT_FOUND:
            return None
        if code in THROTTLED:
            raise LookupThrottled(f"dingtalk: errcode {code}", retry_after=THROTTLE_DELAY)
        if code in NO_PERMISSION or code in TOKEN_ERRORS:
            raise LookupRefused(
                f"dingtalk: errcode {code} {message}: grant the app the permission "
                "qyapi_get_member_by_mobile (根据手机号获取成员基本信息)"
            )
        if code in INVALID_MOBILE:
            raise LookupFailed(f"dingtalk: mobile refused (errcode {code})")
        raise LookupFailed(f"dingtalk: errcode {code} {message}".rstrip())

    async def verify(self) -> str:
        """An access token for the app's client id and secret."""
        try:
            await self._api.access_token(refresh=True)
        except DeliveryError as exc:
            if exc.permanent:
                raise LookupRefused(
                    "dingtalk: client_id/client_secret refused (check [dingtalk])"
                ) from None
            raise LookupFailed(f"dingtalk: unreachable ({exc})") from None
        return "access token issued"

    async def close(self) -> None:
        await self._http.aclose()
