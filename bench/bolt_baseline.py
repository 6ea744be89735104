"""`python -m bench.bolt_baseline PORT API_URL`: the `chat_http` baseline server.

A bare slack-bolt `AsyncApp` on the same stack as `coverwatch run` (uvicorn, a Starlette
route that hands Bolt the raw request, Bolt's signature check) whose `/coverwatch` handler
only acks: the most any Slack bot in this stack can answer. Secrets come from the same
environment variables coverwatch reads.
"""

from __future__ import annotations

import os
import sys

import uvicorn
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def build(api_url: str) -> Starlette:
    client = AsyncWebClient(token=os.environ["COVERWATCH_SLACK__BOT_TOKEN"], base_url=api_url)
    bolt = AsyncApp(client=client, signing_secret=os.environ["COVERWATCH_SLACK__SIGNING_SECRET"])

    @bolt.command("/coverwatch")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    async def events(request: Request) -> Response:
        answer = await bolt.async_dispatch(
            AsyncBoltRequest(
                body=(await request.body()).decode("utf-8", errors="replace"),
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
            )
        )
        headers = answer.first_headers_without_set_cookie()
        return Response(answer.body, status_code=answer.status, headers=headers)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


if __name__ == "__main__":
    port, api_url = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(build(api_url), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
