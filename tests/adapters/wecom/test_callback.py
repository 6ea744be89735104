"""Callback verification and parsing: WeCom's own sample vector, forgery, staleness, events."""

from __future__ import annotations

import pytest
import xmltodict  # type: ignore[import-untyped]
from wechatpy.crypto import _get_signature  # type: ignore[import-untyped]
from wechatpy.enterprise.crypto import PrpCrypto  # type: ignore[import-untyped]

from adapters.wecom.callback import CallbackCrypto, CallbackRejected, MalformedCallback, event_of
from adapters.wecom.envelope import MalformedEnvelope, extract_encrypt
from handlers.types import Action, Message
from tests.support.wecom import (
    AES_KEY,
    CORP_ID,
    NOW,
    TOKEN,
    VECTOR,
    FakeClock,
    encrypted_post,
    fixture_xml,
)


def crypto(now: float = NOW) -> CallbackCrypto:
    return CallbackCrypto(TOKEN, AES_KEY, CORP_ID, FakeClock(now))


def vector_query(**changes: str) -> dict[str, str]:
    keys = ("msg_signature", "timestamp", "nonce", "echostr")
    return {**{key: VECTOR[key] for key in keys}, **changes}


def test_official_sample_vector_verifies_and_decrypts() -> None:
    sent_at = int(VECTOR["timestamp"])
    assert crypto(sent_at + 10).verify_url(vector_query()) == "1288432023552776189"


@pytest.mark.parametrize(
    "changes",
    [
        {"msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebec"},
        {"nonce": "47744684"},
        {"echostr": VECTOR["echostr"].replace("fsi1", "fsi2")},
    ],
)
def test_url_verification_refuses_a_bad_signature(changes: dict[str, str]) -> None:
    with pytest.raises(CallbackRejected):
        crypto(int(VECTOR["timestamp"])).verify_url(vector_query(**changes))


def test_url_verification_refuses_a_stale_timestamp() -> None:
    with pytest.raises(CallbackRejected, match="5 minute"):
        crypto(int(VECTOR["timestamp"]) + 301).verify_url(vector_query())


def test_decrypts_a_message_encrypted_by_wechatpy() -> None:
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    fields = crypto().decrypt(query, body)
    assert fields["Content"] == "我的医保"
    assert fields["FromUserName"] == "zhangsan"


@pytest.mark.parametrize("skew", [-301, 301])
def test_decrypt_refuses_timestamps_outside_five_minutes(skew: int) -> None:
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW) + skew)
    with pytest.raises(CallbackRejected, match="5 minute"):
        crypto().decrypt(query, body)


def test_decrypt_accepts_the_edge_of_the_window() -> None:
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW) - 300)
    assert crypto().decrypt(query, body)["MsgId"] == "7248349923859371823"


def test_decrypt_refuses_another_corp() -> None:
    query, body = encrypted_post(
        fixture_xml("text_message"), timestamp=int(NOW), corp_id="wwffffffffffffffff"
    )
    with pytest.raises(CallbackRejected):
        crypto().decrypt(query, body)


@pytest.mark.parametrize("field", ["msg_signature", "nonce", "timestamp"])
def test_decrypt_refuses_tampered_or_missing_parameters(field: str) -> None:
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    tampered = {**query, field: str(int(query[field]) + 1) if field != "msg_signature" else "0"}
    missing = {k: v for k, v in query.items() if k != field}
    for bad in (tampered, missing):
        with pytest.raises(CallbackRejected):
            crypto().decrypt(bad, body)


def test_decrypt_refuses_a_body_that_is_not_xml() -> None:
    query, _ = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    with pytest.raises(CallbackRejected):
        crypto().decrypt(query, b"not xml at all")


def fields_of(name: str, **changes: str) -> dict[str, str]:
    parsed = xmltodict.parse(fixture_xml(name, **changes))["xml"]
    return {k: v for k, v in parsed.items() if isinstance(v, str)}


def test_text_message_becomes_a_direct_message() -> None:
    assert event_of(fields_of("text_message")) == Message(
        platform="wecom",
        user_id="zhangsan",
        conversation_id="zhangsan",
        is_direct=True,
        text="我的医保",
        event_id="7248349923859371823",
    )


@pytest.mark.parametrize(
    ("key", "action_id", "value"), [("ack:12", "ack", "12"), ("snooze:12:4h", "snooze", "12:4h")]
)
def test_card_click_becomes_an_action(key: str, action_id: str, value: str) -> None:
    event = event_of(fields_of("template_card_event", EventKey=key, ResponseCode="RC-1"))
    assert event == Action(
        platform="wecom",
        user_id="lisi",
        conversation_id="lisi",
        action_id=action_id,
        value=value,
        event_id=f"lisi:1476416380:taskid111:{key}",
        message_ref="card:lisi:RC-1",
    )


@pytest.mark.parametrize("key", ["", "ack", "ack:", "delete:12"])
def test_card_click_with_a_foreign_key_is_ignored(key: str) -> None:
    assert event_of(fields_of("template_card_event", EventKey=key)) is None


def test_other_messages_and_events_are_ignored() -> None:
    assert event_of(fields_of("text_message", MsgType="image")) is None
    assert event_of(fields_of("template_card_event", Event="enter_agent")) is None


def signed_post(encrypt: str, *, timestamp: int = int(NOW)) -> tuple[dict[str, str], bytes]:
    """A body whose `Encrypt` is whatever the test says, correctly signed with our token."""
    nonce = "1372623149"
    signature = _get_signature(TOKEN, str(timestamp), nonce, encrypt)
    query = {"msg_signature": signature, "timestamp": str(timestamp), "nonce": nonce}
    return query, f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()


@pytest.mark.parametrize("encrypt", ["", "AAAA", "A" * 24, "not base64!"])
def test_a_signed_but_undecryptable_encrypt_is_malformed_not_a_crash(encrypt: str) -> None:
    query, body = signed_post(encrypt)
    if encrypt == "not base64!":  # never reaches the signature: the envelope scan refuses it
        body = body.replace(b"<![CDATA[", b"").replace(b"]]>", b"")
    with pytest.raises(MalformedCallback):
        crypto().decrypt(query, body)


def test_the_signature_is_checked_before_anything_is_decrypted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forged signature never reaches AES: decryption is not even attempted."""
    query, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    decrypted: list[str] = []
    monkeypatch.setattr(PrpCrypto, "decrypt", lambda self, text, _id: decrypted.append(text))
    with pytest.raises(CallbackRejected, match="msg_signature") as refused:
        crypto().decrypt({**query, "msg_signature": "0" * 40}, body)
    assert not isinstance(refused.value, MalformedCallback)
    assert decrypted == []


@pytest.mark.parametrize(
    "body",
    [
        b"<xml>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</xml>",
        b'<!DOCTYPE xml [<!ENTITY a "QUFB">]><xml><Encrypt>&a;</Encrypt></xml>',
        b"<xml><Encrypt>QUFB</Encrypt><Encrypt>QUFB</Encrypt></xml>",
        b"<xml><Encrypt><![CDATA[QUFB]]></Encrypt>",
        b"<xml><Encrypt><Encrypt>QUFB</Encrypt></Encrypt></xml>",
        b'{"Encrypt": "QUFB"}',
        b"",
    ],
    ids=["nested", "entity", "two", "unclosed", "nested-encrypt", "json", "empty"],
)
def test_the_envelope_scan_refuses_anything_but_one_base64_encrypt(body: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        extract_encrypt(body)


def test_the_envelope_scan_takes_encrypt_out_of_wecoms_envelope() -> None:
    _, body = encrypted_post(fixture_xml("text_message"), timestamp=int(NOW))
    expected = xmltodict.parse(body)["xml"]["Encrypt"]
    assert extract_encrypt(b'<?xml version="1.0"?>\n' + body + b"\n") == expected
    assert extract_encrypt(b"<xml><Encrypt>QUFB</Encrypt></xml>") == "QUFB"


def test_two_buttons_clicked_in_one_second_are_two_clicks() -> None:
    """Finding 10: dedupe on user + CreateTime dropped the second button of the same second."""
    ack = event_of(fields_of("template_card_event", EventKey="ack:12"))
    snooze = event_of(fields_of("template_card_event", EventKey="snooze:12:4h"))
    other_card = event_of(fields_of("template_card_event", EventKey="ack:12", TaskId="task2"))
    again = event_of(fields_of("template_card_event", EventKey="ack:12"))
    assert ack is not None and snooze is not None and other_card is not None and again
    assert len({ack.event_id, snooze.event_id, other_card.event_id}) == 3
    assert again.event_id == ack.event_id  # WeCom's redelivery of one click stays one click
