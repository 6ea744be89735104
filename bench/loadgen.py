"""`python -m bench.loadgen`: signed Slack slash commands at a fixed rate or flat out.

A separate process, so the server under test never shares its interpreter with the load. The
HTTP/1.1 client is a few lines over asyncio streams (keep-alive connections from a pool): a
full client library would spend more CPU per request than the servers it measures, and on a
small machine the load generator would become the limit. Latency at a fixed rate is measured
from each request's *scheduled* start, so a stalled server cannot hide its queue (no
coordinated omission). Prints one JSON line. An ack that carries the server's "busy, try
again" answer in its body (past `[chat] max_backlog`) is counted apart (`busy_acks`): that
command gets no answer at its response_url.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode, urlsplit

CONNECTIONS = 32
TEAM_ID = "T0001"


def busy_texts() -> frozenset[str]:
    """The "busy, try again" answer in every language (`bot.handling.busy_reply`)."""
    from handlers.i18n import SUPPORTED_LOCALES, translate

    return frozenset(translate(locale, "error.busy") for locale in SUPPORTED_LOCALES)


BUSY = busy_texts()


def slash_command(
    secret: str,
    index: int,
    users: int,
    response_base: str,
    text: str = "coverage",
    *,
    user: int | None = None,
) -> tuple[bytes, bytes]:
    """(headers block, body) of `/coverwatch <text>` from `user` (default: `index % users`),
    signed as Slack signs (https://docs.slack.dev/authentication/verifying-requests-from-slack/)."""
    who = index % users if user is None else user
    body = urlencode(
        {
            "token": "unused",
            "team_id": TEAM_ID,
            "channel_id": f"D{who:07d}",
            "user_id": f"U{who:07d}",
            "command": "/coverwatch",
            "text": text,
            "response_url": f"{response_base}r{index}",
            "trigger_id": f"trigger.{index}.{time.time_ns()}",
        }
    ).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = (
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Slack-Request-Timestamp: {stamp}\r\n"
        f"X-Slack-Signature: v0={mac.hexdigest()}\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return headers, body


class Client:
    """A pool of keep-alive connections to one host."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.start = f"POST {parts.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode()
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self, count: int) -> None:
        for _ in range(count):
            self.pool.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def post(self, headers: bytes, body: bytes) -> tuple[int, bytes]:
        """(status, body); status 0 when the connection failed."""
        reader, writer = await self.pool.get()
        try:
            writer.write(self.start + headers + b"\r\n" + body)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            status, answer = 0, b""
        self.pool.put_nowait((reader, writer))
        return status, answer


def says_busy(body: bytes) -> bool:
    """Whether an ack's body is the "busy" answer (a slash command's ack may carry it)."""
    if not body.startswith(b"{"):
        return False
    try:
        return json.loads(body).get("text") in BUSY
    except (ValueError, AttributeError):
        return False


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def at_rate(client: Client, args: argparse.Namespace) -> dict[str, object]:
    latencies: list[float] = []
    statuses: list[tuple[int, bool]] = []
    total = int(args.rate * args.seconds)
    begin = time.perf_counter() + 0.1

    async def one(index: int) -> None:
        scheduled = begin + index / args.rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        headers, body = slash_command(
            args.secret, args.first + index, args.users, args.responses, args.text
        )
        statuses.append(_acked(await client.post(headers, body)))
        latencies.append((time.perf_counter() - scheduled) * 1000)

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = time.perf_counter() - begin
    return _summary(statuses, latencies, elapsed)


async def burst(client: Client, args: argparse.Namespace) -> dict[str, object]:
    """`--plan`'s requests (JSON `[[text, user], …]`) evenly over `--seconds`; reports when each
    was scheduled (`time.monotonic`, the clock the fake Slack stamps answers with), by its
    response_url id, so the caller can time the answers."""
    plan = json.loads(args.plan)
    latencies: list[float] = []
    statuses: list[tuple[int, bool]] = []
    scheduled: dict[str, float] = {}
    begin, monotonic_begin = time.perf_counter() + 0.1, time.monotonic() + 0.1

    async def one(position: int, text: str, user: int) -> None:
        offset = position * args.seconds / len(plan)
        await asyncio.sleep(max(0.0, begin + offset - time.perf_counter()))
        index = args.first + position
        headers, body = slash_command(
            args.secret, index, args.users, args.responses, text, user=user
        )
        scheduled[f"r{index}"] = monotonic_begin + offset
        statuses.append(_acked(await client.post(headers, body)))
        latencies.append((time.perf_counter() - begin - offset) * 1000)

    await asyncio.gather(*(one(i, text, user) for i, (text, user) in enumerate(plan)))
    return {**_summary(statuses, latencies, time.perf_counter() - begin), "scheduled": scheduled}


async def flat_out(client: Client, args: argparse.Namespace) -> dict[str, object]:
    latencies: list[float] = []
    statuses: list[tuple[int, bool]] = []
    counter = iter(range(args.first, args.first + 10_000_000))
    begin = time.perf_counter()
    stop = begin + args.seconds

    async def worker() -> None:
        while time.perf_counter() < stop:
            headers, body = slash_command(
                args.secret, next(counter), args.users, args.responses, args.text
            )
            sent = time.perf_counter()
            statuses.append(_acked(await client.post(headers, body)))
            latencies.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return _summary(statuses, latencies, time.perf_counter() - begin)


def _acked(answer: tuple[int, bytes]) -> tuple[int, bool]:
    status, body = answer
    return status, 200 <= status < 300 and says_busy(body)


def _summary(
    statuses: list[tuple[int, bool]], latencies: list[float], elapsed: float
) -> dict[str, object]:
    """`ok`: acks (2xx), `busy_acks` among them; `rps`: acks per second."""
    ok = sum(1 for status, _ in statuses if 200 <= status < 300)
    return {
        "requests": len(statuses),
        "ok": ok,
        "busy_acks": sum(1 for _, busy in statuses if busy),
        "errors": len(statuses) - ok,
        "seconds": elapsed,
        "rps": ok / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=0.0),
    }


async def main(args: argparse.Namespace) -> None:
    client = Client(args.url)
    await client.open(args.concurrency if args.mode == "max" else CONNECTIONS)
    modes = {"rate": at_rate, "max": flat_out, "burst": burst}
    result = await modes[args.mode](client, args)
    print(json.dumps(result))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("mode", choices=("rate", "max", "burst"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--responses", required=True, help="response_url prefix")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--first", type=int, default=0, help="first request number")
    parser.add_argument("--text", default="coverage", help="the command's text")
    parser.add_argument("--plan", default="[]", help='burst: JSON [["help", user], …]')
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
