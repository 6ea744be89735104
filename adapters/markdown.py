"""User text made inert inside DingTalk and WeCom markdown (issue 15 item 7).

Names and departments come from an HR spreadsheet: a new hire named
`[点击这里确认参保](http://evil.example/login)` became a live link in HR's alerts. Neither
platform documents backslash escapes for its markdown subset (DingTalk: "自定义机器人发送群消息"
markdown, https://open.dingtalk.com/document/orgapp/custom-robot-access; WeCom: doc 90236
"markdown消息" lists links, `<font>`, bold, quotes, code, headers), so the characters that
start markup are replaced by their full-width forms, which read the same to a person and mean
nothing to the renderer. Line breaks become spaces so a value cannot open a heading or a quote.
"""

from __future__ import annotations

_INERT = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "~": "～",
        "|": "｜",
        "\r": " ",
        "\n": " ",
    }
)


def inert(text: str) -> str:
    """`text` shown as written, with no markdown, HTML or link syntax left in it."""
    return text.translate(_INERT)


def inert_lines(text: str) -> str:
    """As `inert`, keeping line breaks (a plain answer shown as several lines); each line is
    made inert, so none can start a heading, list of links or quote."""
    return "\n".join(inert(line) for line in text.splitlines())
