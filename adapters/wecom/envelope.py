"""Take `Encrypt` out of a WeCom callback body without an XML parser.

The outer body of a callback POST is not signed as a whole: only its `Encrypt` value is
(`msg_signature` = SHA1(sort(token, timestamp, nonce, Encrypt)), doc 90968 "加解密方案说明").
wechatpy parses that outer XML with xmltodict before it checks anything, so any stranger's body
(10 MB of nested tags) was parsed on the event loop (issue 15 finding 1). This extractor reads
the one field the signature covers with a single linear scan: no parser, no entities, no DTD,
nothing nested, and nothing else trusted. WeCom's envelope is fixed
(`<xml><ToUserName/><AgentID/><Encrypt><![CDATA[base64]]></Encrypt></xml>`, doc 90930), so a
body that is not exactly that shape is refused as malformed.
"""

from __future__ import annotations

import re

_ENCRYPT = re.compile(
    rb"<Encrypt>(?:<!\[CDATA\[([A-Za-z0-9+/=]*)\]\]>|([A-Za-z0-9+/=]*))</Encrypt>"
)
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")


class MalformedEnvelope(Exception):
    """The body is not a WeCom callback envelope: answer 400, verify and decrypt nothing."""


def extract_encrypt(body: bytes) -> str:
    """The base64 `Encrypt` value of the envelope (may be empty: the signature decides).

    :raises MalformedEnvelope: no `<xml>` document, a DTD or entity declaration, or not exactly
        one `Encrypt` element holding base64 text.
    """
    stripped = body.strip()
    if stripped.startswith(b"<?xml"):
        end = stripped.find(b"?>")
        if end < 0:
            raise MalformedEnvelope("unterminated XML declaration")
        stripped = stripped[end + 2 :].lstrip()
    if not (stripped.startswith(b"<xml>") and stripped.endswith(b"</xml>")):
        raise MalformedEnvelope("not an <xml> envelope")
    upper = stripped.upper()
    if any(marker in upper for marker in _FORBIDDEN):
        raise MalformedEnvelope("DTDs and entities are not accepted")
    matches = _ENCRYPT.finditer(stripped)
    first = next(matches, None)
    if first is None:
        raise MalformedEnvelope("no Encrypt element of base64 text")
    if next(matches, None) is not None or stripped.count(b"<Encrypt>") != 1:
        raise MalformedEnvelope("more than one Encrypt element")
    value = first.group(1) if first.group(1) is not None else first.group(2)
    return value.decode("ascii")
