"""Verify, decrypt and parse WeCom callbacks (回调) into neutral events.

WeCom signs every callback with `msg_signature` = SHA1(sort(token, timestamp, nonce, encrypt))
and encrypts the body with AES-256-CBC; the plaintext ends with the corp id (receiveid).
`wechatpy.enterprise.crypto.WeChatCrypto` checks both, but has no freshness check, so a
captured request could be replayed forever: we refuse timestamps more than 5 minutes away
(the same window Slack uses). Docs: https://developer.work.weixin.qq.com/document/path/90968
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from xml.parsers.expat import ExpatError

import xmltodict  # type: ignore[import-untyped]
from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped]
from wechatpy.enterprise.exceptions import InvalidCorpIdException  # type: ignore[import-untyped]
from wechatpy.exceptions import (  # type: ignore[import-untyped]
    InvalidSignatureException,
    WeChatException,
)

from adapters.wecom.envelope import MalformedEnvelope, extract_encrypt
from adapters.wecom.render import card_ref
from handlers.alert_actions import BUTTON_ACTIONS
from handlers.types import Action, Message

PLATFORM = "wecom"
MAX_SKEW_SECONDS = 300


class CallbackRejected(Exception):
    """The request is not provably from WeCom (or is too old): answer 403, do nothing."""


class MalformedCallback(CallbackRejected):
    """Not a callback envelope, or signed but not decryptable: answer 400, do nothing."""


@dataclass(frozen=True)
class CallbackCrypto:
    """The callback secrets of one WeCom app, and the clock used for freshness."""

    token: str
    encoding_aes_key: str
    corp_id: str
    clock: Callable[[], float]

    def _crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.encoding_aes_key, self.corp_id)

    def _check_fresh(self, timestamp: str) -> None:
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise CallbackRejected("timestamp is not an integer") from exc
        if abs(self.clock() - sent_at) > MAX_SKEW_SECONDS:
            raise CallbackRejected("timestamp outside the 5 minute window")

    def verify_url(self, query: Mapping[str, str]) -> str:
        """URL verification (GET): the decrypted `echostr`, to answer as plain text."""
        signature, timestamp, nonce = _signed_params(query)
        echostr = query.get("echostr", "")
        self._check_fresh(timestamp)
        try:
            return str(self._crypto().check_signature(signature, timestamp, nonce, echostr))
        except (WeChatException, ValueError, IndexError, struct.error) as exc:
            raise CallbackRejected(f"URL verification failed: {type(exc).__name__}") from exc

    def decrypt(self, query: Mapping[str, str], body: bytes) -> dict[str, str]:
        """The decrypted message (POST) as a flat dict of its XML fields. Blocking (AES and
        the inner parse): the adapter runs it in a thread.

        Order matters (issue 15): `Encrypt` comes out by a strict scan (`envelope`), the
        signature over it is checked, and only a signed `Encrypt` is decrypted and its
        plaintext XML parsed; the outer body is never given to an XML parser.

        :raises CallbackRejected: unsigned, forged or stale (403).
        :raises MalformedCallback: no envelope, or signed but not decryptable (400).
        """
        signature, timestamp, nonce = _signed_params(query)
        self._check_fresh(timestamp)
        try:
            encrypt = extract_encrypt(body)
        except MalformedEnvelope as exc:
            raise MalformedCallback(str(exc)) from exc
        try:
            # Compares SHA1(sort(token, timestamp, nonce, encrypt)) first, then decrypts.
            xml = self._crypto().check_signature(signature, timestamp, nonce, encrypt)
        except InvalidSignatureException as exc:
            raise CallbackRejected("bad msg_signature") from exc
        except InvalidCorpIdException as exc:
            raise CallbackRejected("encrypted for another corp") from exc
        except (WeChatException, ValueError, IndexError, struct.error) as exc:
            # IndexError/struct.error: an empty or truncated ciphertext (wechatpy reads the
            # padding byte and the length prefix without checking the length).
            raise MalformedCallback(f"signed but undecryptable: {type(exc).__name__}") from exc
        try:
            # The plaintext is ours (AES with our key, corp id checked): expat without
            # entity expansion is enough here.
            fields = xmltodict.parse(xml, disable_entities=True)["xml"]
        except (ExpatError, ValueError, KeyError, TypeError) as exc:
            raise MalformedCallback(f"signed but not a message: {type(exc).__name__}") from exc
        if not isinstance(fields, dict):
            raise MalformedCallback("the decrypted message is not an <xml> of fields")
        return {key: value for key, value in fields.items() if isinstance(value, str)}


def _signed_params(query: Mapping[str, str]) -> tuple[str, str, str]:
    try:
        return query["msg_signature"], query["timestamp"], query["nonce"]
    except KeyError as exc:
        raise CallbackRejected(f"missing query parameter {exc.args[0]}") from exc


def click_id(fields: Mapping[str, str]) -> str:
    """What identifies one click: events carry no MsgId, and WeCom's suggested
    FromUserName + CreateTime (doc 90240) merges two buttons clicked in the same second (issue
    15 finding 10); with the button (`EventKey`) and the card (`TaskId`) it does not, and a
    redelivery of the same click still repeats all four."""
    parts = ("FromUserName", "CreateTime", "TaskId", "EventKey")
    return ":".join(fields.get(part, "") for part in parts)


def event_of(fields: Mapping[str, str]) -> Message | Action | None:
    """A neutral event for the messages coverwatch understands; None for everything else.

    Field names: https://developer.work.weixin.qq.com/document/path/90239 (text message) and
    /path/90240#模板卡片事件推送 (`template_card_event`, which wechatpy 1.8.18 parses as
    UnknownMessage, hence the raw fields).
    """
    user = fields.get("FromUserName", "")
    if not user:
        return None
    if fields.get("MsgType") == "text" and fields.get("MsgId"):
        return Message(
            platform=PLATFORM,
            user_id=user,
            conversation_id=user,
            is_direct=True,  # app messages are always a 1:1 chat between a member and the app
            text=fields.get("Content", "").strip(),
            event_id=fields["MsgId"],
        )
    if fields.get("MsgType") == "event" and fields.get("Event") == "template_card_event":
        action_id, _, value = fields.get("EventKey", "").partition(":")
        if action_id not in BUTTON_ACTIONS or not value:
            return None
        return Action(
            platform=PLATFORM,
            user_id=user,
            conversation_id=user,
            action_id=action_id,
            value=value,
            event_id=click_id(fields),
            message_ref=card_ref(user, fields["ResponseCode"])
            if fields.get("ResponseCode")
            else None,
        )
    return None
