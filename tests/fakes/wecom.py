"""A loopback fake of the WeCom server API (https://qyapi.weixin.qq.com/cgi-bin/) over real HTTP.

Speaks the real wire protocol for the calls coverwatch makes: `gettoken`, `message/send`,
`appchat/send`, `message/update_template_card`, `media/upload`. It checks the access token
(42001 when expired, 40014 when unknown), records every call, and behaves like the real
service at its limits: beyond 30 messages/min or 1000/hour to one member it answers errcode 0
and drops the message (doc 90454), and it can be told to answer 45009.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer, wait_started

PER_MEMBER_LIMITS = ((30, 60.0), (1000, 3600.0))
RESPONSE_CODE_SECONDS = 72 * 3600


@dataclass
class Call:
    api: str
    """Path below /cgi-bin/, e.g. `message/send`."""
    query: dict[str, str]
    body: dict[str, Any]
    outcome: str
    """`ok`, `dropped` (over the per-member limit, answered errcode 0) or `errcode N`."""
    files: dict[str, bytes] = field(default_factory=dict)


class FakeWeCom:
    def __init__(
        self,
        *,
        corp_id: str,
        secret: str,
        agent_id: int,
        users: frozenset[str],
        chats: frozenset[str] = frozenset(),
        unlicensed: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.users, self.chats, self.clock = users, chats, clock
        self.unlicensed = unlicensed
        """Members without an interface licence: listed in `unlicenseduser`, never reached."""
        self.calls: list[Call] = []
        self.throttle_next = 0
        """How many coming message/send calls to answer with 45009."""
        self.throttle_lookups = 0
        """How many coming user/getuserid or user/get_userid_by_email calls to answer 45009."""
        self.mobiles: dict[str, str] = {}
        self.emails: dict[str, str] = {}
        """The directory the user-id look-ups answer from (mobile or email -> UserID)."""
        self.tokens_born_expired = False
        """Issue tokens that are already expired (a broken token service)."""
        self.send_delay = 0.0
        """Seconds every message/send takes to answer (a slow WeCom)."""
        self._valid_tokens: set[str] = set()
        self._expired_tokens: set[str] = set()
        self._sent_at: dict[str, list[float]] = {}
        self._task_ids: set[str] = set()
        self._response_codes: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.base_url = ""

    # --- test controls -------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token issued so far now answers 42001 (as after its 7200 s)."""
        with self._lock:
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens.clear()

    def click(self, task_id: str) -> str:
        """A member clicks a button of the card `task_id`: the ResponseCode the callback carries."""
        assert task_id in self._task_ids, f"no card with task_id {task_id}"
        return self._new_response_code()

    def calls_to(self, api: str, outcome: str = "ok") -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.api == api and c.outcome == outcome]

    # --- the API ---------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> JSONResponse:
        api = request.path_params["api"]
        query = dict(request.query_params)
        body, files = await _body_of(request)
        if api == "message/send" and self.send_delay > 0:
            await asyncio.sleep(self.send_delay)
        with self._lock:
            answer = self._answer(api, query, body)
            outcome = answer.pop("_outcome", None) or _outcome(answer)
            self.calls.append(Call(api=api, query=query, body=body, outcome=outcome, files=files))
        return JSONResponse(answer)

    def _answer(self, api: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if api == "gettoken":
            if query.get("corpid") != self.corp_id:
                return _error(40013, "invalid corpid")
            if query.get("corpsecret") != self.secret:
                return _error(40001, "invalid credential")
            token = secrets.token_urlsafe(24)
            (self._expired_tokens if self.tokens_born_expired else self._valid_tokens).add(token)
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        token = query.get("access_token", "")
        if token in self._expired_tokens:
            return _error(42001, "access_token expired")
        if token not in self._valid_tokens:
            return _error(40014, "invalid access_token")
        handlers = {
            "message/send": self._message_send,
            "appchat/send": self._appchat_send,
            "message/update_template_card": self._update_card,
            "media/upload": self._media_upload,
            "user/getuserid": self._user_id,
            "agent/get": lambda _body: self._agent(query),
            "user/get_userid_by_email": self._user_id,
        }
        return handlers[api](body) if api in handlers else _error(40058, f"no api {api}")

    def _message_send(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return _error(45009, "api freq out of limit")
        targets = [u for u in str(body.get("touser", "")).split("|") if u]
        invalid = [u for u in targets if u not in self.users]
        if len(invalid) == len(targets):
            return {
                **_error(81013, "user & party & tag all invalid"),
                "invaliduser": "|".join(invalid),
            }
        unlicensed = [u for u in targets if u in self.unlicensed]
        answer = {
            "errcode": 0,
            "errmsg": "ok",
            "invaliduser": "|".join(invalid),
            "invalidparty": "",
            "invalidtag": "",
            "unlicenseduser": "|".join(unlicensed),
        }
        answer["msgid"] = f"msg{next(self._ids)}"
        card = body.get("template_card")
        if card is not None:
            task_id = card.get("task_id", "")
            if not task_id or task_id in self._task_ids:
                return _error(42014, "taskid has existed or empty or exceed max len")
            self._task_ids.add(task_id)
            answer["response_code"] = self._new_response_code()
        reachable = [u for u in targets if u in self.users and u not in self.unlicensed]
        delivered = [u for u in reachable if self._within_limit(u)]
        if not delivered:
            answer["_outcome"] = "dropped"  # errcode 0, yet nobody gets it
        return answer

    def _within_limit(self, user: str) -> bool:
        now = self.clock()
        sent = self._sent_at.setdefault(user, [])
        if any(sum(1 for t in sent if now - t < span) >= n for n, span in PER_MEMBER_LIMITS):
            return False
        sent.append(now)
        return True

    def _agent(self, query: dict[str, str]) -> dict[str, Any]:
        # Doc 90227: the app's details; 40056 for an agent id that is not this secret's app.
        if query.get("agentid") != str(self.agent_id):
            return _error(40056, "invalid agentid")
        return {"errcode": 0, "errmsg": "ok", "agentid": self.agent_id, "name": "coverwatch"}

    def _user_id(self, body: dict[str, Any]) -> dict[str, Any]:
        # Doc 95402 (by mobile) and 95895 (by email): {"userid"}; 46004 for nobody.
        if self.throttle_lookups > 0:
            self.throttle_lookups -= 1
            return _error(45009, "api freq out of limit")
        if "mobile" in body:
            user = self.mobiles.get(str(body["mobile"]))
        else:
            user = self.emails.get(str(body.get("email", "")).lower())
        if user is None:
            return _error(46004, "user not found")
        return {"errcode": 0, "errmsg": "ok", "userid": user}

    def _appchat_send(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("chatid") not in self.chats:
            return _error(86003, "chat not exist")
        return {"errcode": 0, "errmsg": "ok"}

    def _update_card(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        issued = self._response_codes.pop(str(body.get("response_code")), None)
        if issued is None or self.clock() - issued > RESPONSE_CODE_SECONDS:
            # The docs name no code for a spent or unknown response_code: generic invalid param.
            return _error(40058, "invalid response_code")
        return {"errcode": 0, "errmsg": "ok", "invaliduser": []}

    def _media_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "errcode": 0,
            "errmsg": "",
            "type": "image",
            "media_id": f"media{next(self._ids)}",
            "created_at": str(int(self.clock())),
        }

    def _new_response_code(self) -> str:
        code = secrets.token_urlsafe(16)
        self._response_codes[code] = self.clock()
        return code

    @contextmanager
    def running(self) -> Iterator[FakeWeCom]:
        """Serve on a random free port of 127.0.0.1 in a background thread."""
        app = Starlette(
            routes=[Route("/cgi-bin/{api:path}", self._endpoint, methods=["GET", "POST"])]
        )
        with serve(app) as base:
            self.base_url = f"{base}/cgi-bin/"
            yield self


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1:<free port>; yields its base URL."""
    server = LoopbackServer(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_started(server, thread, "uvicorn")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(timeout=10)


async def _body_of(request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        # Parsed with the stdlib (Starlette's form parser needs python-multipart).
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        files: dict[str, bytes] = {}
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            name = str(part.get_param("name", header="content-disposition"))
            files[name] = payload if isinstance(payload, bytes) else b""
        return {}, files
    return (json.loads(raw) if raw else {}), {}


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


def _outcome(answer: dict[str, Any]) -> str:
    errcode = answer.get("errcode", 0)
    return "ok" if errcode == 0 else f"errcode {errcode}"
