"""The WeCom server API through wechatpy, with a bounded token refresh and typed failures.

`wechatpy.enterprise.WeChatClient` is kept for its API helpers and token cache, with two
fixes (see wechatpy/client/base.py, enterprise/client/__init__.py in 1.8.18):
- `fetch_access_token` hard-codes https://qyapi.weixin.qq.com/cgi-bin/gettoken, so a
  private deployment or a test double could never issue the token: we ask `api_base_url`.
  (It also calls requests without a timeout; ours passes one.)
- `auto_retry=True` re-fetches the token and recurses without bound on 40001/40014/42001;
  we disable it and refresh once, then fail.
Every call is blocking `requests`: the adapter runs it with `asyncio.to_thread`.
Error codes: https://developer.work.weixin.qq.com/document/path/90313
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from wechatpy.enterprise import WeChatClient  # type: ignore[import-untyped]
from wechatpy.exceptions import WeChatClientException  # type: ignore[import-untyped]

from adapters.base import DeliveryError

T = TypeVar("T")

# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# 45009 "接口调用超过限制". WeCom blocks a per-minute overrun for 60 s and a per-hour one for
# 60 min (doc 90454 访问频率限制); the first is the common case, the outbox backs off again.
RATE_LIMITED = 45009
RATE_LIMIT_BACKOFF_SECONDS = 60.0
# -1 "系统繁忙": transient by definition.
BUSY = -1
# 81013 "UserID、部门ID、标签ID全部非法或无权限": the recipient is not in the app's range.
ALL_RECIPIENTS_INVALID = 81013


class WeComClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's enterprise client pointed at `api_base_url`, refreshing the token once."""

    def __init__(self, corp_id: str, secret: str, *, api_base_url: str, timeout: float) -> None:
        super().__init__(corp_id, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base_url if api_base_url.endswith("/") else api_base_url + "/"

    def fetch_access_token(self) -> dict[str, Any]:
        response = self._http.get(
            self.API_BASE_URL + "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
            timeout=self.timeout,
        )
        if response.status_code >= 400:
            raise WeChatClientException(None, None, client=self, response=response)
        result: dict[str, Any] = response.json()
        if result.get("errcode", 0) != 0:
            raise WeChatClientException(
                result["errcode"], result.get("errmsg"), client=self, response=response
            )
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result

    def call(self, request: Callable[[], T]) -> T:
        """Run one API request; on a token error refresh once and retry once, then give up."""
        try:
            return _translated(request)
        except _TokenRejected:
            pass
        try:
            _translated(self.fetch_access_token)
        except _TokenRejected as exc:  # gettoken itself refuses the secret (40001)
            raise DeliveryError(f"WeCom refused the app secret: {exc}", permanent=True) from exc
        try:
            return _translated(request)
        except _TokenRejected as exc:
            raise DeliveryError(f"WeCom rejected a fresh access token: {exc}") from exc


class _TokenRejected(Exception):
    pass


def _translated(request: Callable[[], T]) -> T:
    """Map wechatpy/requests failures to DeliveryError (token errors to _TokenRejected)."""
    try:
        return request()
    except requests.RequestException as exc:  # timeouts, refused connections
        raise DeliveryError(f"WeCom unreachable: {type(exc).__name__}") from exc
    except WeChatClientException as exc:
        raise _delivery_error(exc) from exc


def _delivery_error(exc: Any) -> Exception:
    errcode, response = exc.errcode, exc.response
    if errcode is None:  # an HTTP error status, no WeCom errcode
        status = response.status_code if response is not None else 0
        if status == 429:
            retry_after = response.headers.get("Retry-After", "")
            delay = float(retry_after) if retry_after.isdigit() else RATE_LIMIT_BACKOFF_SECONDS
            return DeliveryError("WeCom HTTP 429", retry_after=delay)
        return DeliveryError(f"WeCom HTTP {status}", permanent=400 <= status < 500)
    if errcode in TOKEN_ERRORS:
        return _TokenRejected(f"errcode {errcode}")
    if errcode == RATE_LIMITED:
        return DeliveryError("WeCom errcode 45009", retry_after=RATE_LIMIT_BACKOFF_SECONDS)
    if errcode == BUSY:
        return DeliveryError("WeCom errcode -1 (busy)")
    # Everything else (invalid user/agent/chat/media, no permission, bad payload) will fail the
    # same way on a retry.
    return DeliveryError(f"WeCom errcode {errcode}: {exc.errmsg}", permanent=True)
