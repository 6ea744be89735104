"""DingTalk server API calls over httpx: access-token cache and error -> DeliveryError mapping.

dingtalk-stream 0.24.3 has no proactive-message helpers and makes blocking `requests` calls,
so the adapter talks to the OpenAPI itself. Token: `POST /v1.0/oauth2/accessToken`
(https://open.dingtalk.com/document/orgapp/obtain-the-access_token-of-an-internal-app), sent
as header `x-acs-dingtalk-access-token`; cached until 5 min before `expireIn` (as the SDK's
`get_access_token` does) and refreshed once when a call is refused for auth.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx

from adapters.base import DeliveryError

log = logging.getLogger(__name__)

TOKEN_PATH = "/v1.0/oauth2/accessToken"
_TOKEN_MARGIN_S = 300.0
# 90002: "too many calls" (https://open.dingtalk.com/document/orgapp/invocation-frequency-limit).
_THROTTLED = "90002"
# Old-style oapi errcodes for a bad/expired token (https://open.dingtalk.com/document/orgapp/server-api-error-codes-1).
_AUTH_ERRCODES = {"40001", "40014", "42001", "88"}
_THROTTLE_BASE_S = 2.0
_THROTTLE_MAX_S = 300.0


class RedactCredentials(logging.Filter):
    """httpx logs every request URL at INFO; the media upload URL carries `access_token=` and a
    session webhook's `session=` is a credential too. Secrets are never logged (ARCHITECTURE.md)."""

    _SECRET = re.compile(r"((?:access_token|session)=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._SECRET.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_REDACT = RedactCredentials()
logging.getLogger("httpx").addFilter(_REDACT)


class AuthRefused(Exception):
    """The token was refused; the caller refreshes once and retries."""


class OpenApi:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str,
        http: httpx.AsyncClient,
        clock: Callable[[], float],
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._base_url = base_url.rstrip("/")
        self._http = http
        self._clock = clock
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock: asyncio.Lock | None = None
        self._throttle_streak = 0

    async def access_token(self, *, refresh: bool = False) -> str:
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            if refresh or self._token is None or self._clock() >= self._token_expires_at:
                body = {"appKey": self._client_id, "appSecret": self._client_secret}
                try:
                    data = await self._send("POST", self._base_url + TOKEN_PATH, body, {})
                except AuthRefused as exc:
                    raise DeliveryError(
                        "dingtalk: app credentials refused", permanent=True
                    ) from exc
                self._token = str(data["accessToken"])
                self._token_expires_at = self._clock() + float(data["expireIn"]) - _TOKEN_MARGIN_S
            return self._token

    async def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """An authenticated OpenAPI call; one token refresh on an auth error, then permanent."""
        url = self._base_url + path
        for attempt in range(2):
            token = await self.access_token(refresh=attempt > 0)
            try:
                return await self._send(method, url, body, {"x-acs-dingtalk-access-token": token})
            except AuthRefused:
                log.info("dingtalk %s %s: token refused, refreshing", method, path)
        raise DeliveryError(f"dingtalk {path}: access token refused after refresh", permanent=True)

    async def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """An unauthenticated POST (session webhook: the URL is the credential)."""
        try:
            return await self._send("POST", url, body, {})
        except AuthRefused as exc:
            raise DeliveryError("dingtalk session webhook refused", permanent=True) from exc

    async def upload_media(self, url: str, filename: str, content: bytes, mime: str) -> str:
        """Old-style `POST /media/upload?access_token=` (as the SDK's `upload_to_dingtalk`)."""
        for attempt in range(2):
            token = await self.access_token(refresh=attempt > 0)
            try:
                response = await self._http.post(
                    url,
                    params={"access_token": token},
                    data={"type": "image"},
                    files={"media": (filename, content, mime)},
                )
            except httpx.TransportError as exc:
                raise DeliveryError(f"dingtalk media upload: {type(exc).__name__}") from exc
            try:
                return str(self._check("media/upload", response)["media_id"])
            except AuthRefused:
                continue
        raise DeliveryError("dingtalk media upload: token refused after refresh", permanent=True)

    async def _send(
        self, method: str, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, json=body, headers=headers)
        except httpx.TransportError as exc:  # timeouts, refused connections: retryable
            raise DeliveryError(f"dingtalk {httpx.URL(url).path}: {type(exc).__name__}") from exc
        return self._check(httpx.URL(url).path, response)

    def _check(self, what: str, response: httpx.Response) -> dict[str, Any]:
        """Map DingTalk's two error styles (HTTP status + `code`, or 200 + `errcode`)."""
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        code = str(data.get("errcode", data.get("code", "0")))
        detail = data.get("message") or data.get("errmsg") or ""
        reason = f"dingtalk {what}: HTTP {response.status_code} code={code} {detail}".rstrip()
        if response.status_code == 429 or code == _THROTTLED:
            retry_after = response.headers.get("retry-after", "")
            raise DeliveryError(reason, retry_after=self.throttle_delay(retry_after))
        self._throttle_streak = 0
        if (
            response.status_code == 401
            or code in _AUTH_ERRCODES
            or "authentication" in code.lower()
        ):
            raise AuthRefused(reason)
        if response.status_code >= 500:
            raise DeliveryError(reason)
        if response.status_code >= 400 or code != "0":
            raise DeliveryError(reason, permanent=True)
        return data

    def throttle_delay(self, retry_after: str = "") -> float:
        """Retry-After when given, else exponential in consecutive throttles (2, 4, 8 … 300 s)."""
        self._throttle_streak += 1
        if retry_after.isdigit():
            return float(retry_after)
        return min(_THROTTLE_BASE_S * 2.0 ** (self._throttle_streak - 1), _THROTTLE_MAX_S)
