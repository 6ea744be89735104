"""Helpers of the WeCom adapter tests: secrets, encrypted callbacks, the HTTP shim, a sink.

Its fixtures (`wecom_fake`, `wecom_adapter`) live in tests/conftest.py. The callback secrets
are those of WeCom's official WXBizMsgCrypt sample, so one set serves every test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import xmltodict  # type: ignore[import-untyped]
from starlette.types import ASGIApp
from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped]

from adapters.wecom import WeComAdapter
from bot.platform_routes import platform_app
from tests.fakes.wecom import FakeWeCom, serve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wecom"
VECTOR: dict[str, str] = json.loads((FIXTURES / "url_verification.json").read_text())
TOKEN, AES_KEY, CORP_ID = VECTOR["token"], VECTOR["encoding_aes_key"], VECTOR["corp_id"]
SECRET = "app-secret-for-tests-only"
AGENT_ID = 1000002
NOW = 1_700_000_000.0
USERS = frozenset({"zhangsan", "lisi", "wangwu"})
HR_CHAT = "wrhrchat0001"


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_adapter(fake: FakeWeCom, clock: FakeClock, *, secret: str = SECRET) -> WeComAdapter:
    return WeComAdapter(
        corp_id=CORP_ID,
        secret=secret,
        agent_id=AGENT_ID,
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        hr_groups=(HR_CHAT,),
        api_base_url=fake.base_url,
        clock=clock,
        timeout=5.0,
    )


def fixture_xml(name: str, **fields: str) -> str:
    """A payload captured from WeCom's docs, with some fields replaced."""
    xml = (FIXTURES / f"{name}.xml").read_text()
    if not fields:
        return xml
    document = xmltodict.parse(xml)
    document["xml"].update(fields)
    return str(xmltodict.unparse(document))


def encrypted_post(
    xml: str, *, timestamp: int, nonce: str = "1372623149", corp_id: str = CORP_ID
) -> tuple[dict[str, str], bytes]:
    """Query and body of a callback POST, encrypted and signed as WeCom does."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, corp_id)
    envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, str(timestamp)))["xml"]
    query = {"msg_signature": envelope["MsgSignature"], "timestamp": str(timestamp)}
    query["nonce"] = nonce
    body = f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
    body += f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
    body += f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return query, body.encode()


def shim(adapter: WeComAdapter) -> ASGIApp:
    """What `coverwatch run` mounts for the adapter: its declared routes."""
    return platform_app(adapter.routes())


@asynccontextmanager
async def callback_client(adapter: WeComAdapter) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the adapter's route over real loopback HTTP."""
    with serve(shim(adapter)) as base:
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as client:
            yield client


def post_url(query: dict[str, str]) -> str:
    return f"/wecom/callback?{urlencode(query)}"


def sent_bodies(fake: FakeWeCom, api: str = "message/send") -> list[dict[str, Any]]:
    return [call.body for call in fake.calls_to(api)]
