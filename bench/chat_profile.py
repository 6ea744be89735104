"""`python -m bench.chat_profile [--profile OUT] [--text T] [--rate R] [--seconds S] [--workers N]
[--pg [--pg-url URL]]`: server CPU per answered chat command on the `chat_http` path, and where
it goes.

Starts `coverwatch run` as `chat_http` does (Slack HTTP mode, loopback fake Slack, 200
employees), sends signed slash commands at a fixed rate below saturation, waits until every
answer has reached the fake's response_url, and divides the CPU time (user + system,
`/proc/<pid>/stat`) of the server and the processes under it (handler workers, slow lane) over
that window by the answers; the serving process's own is reported apart
(`serving_cpu_ms_per_answer`: the rest is its workers'). `--workers`: `[chat] workers` (default
0 on SQLite: handled in the server process; 1: in one worker process beside it, as
`chat_http`'s `workers_1`). `--pg`: on
PostgreSQL (`chat_http_pg`), the CPU of the database's backends serving the server counted
apart (`db_cpu_ms_per_answer`), and the statements it ran per answer
(`pg_stat_database`: transactions; `pg_stat_statements` is not assumed).
With `--profile` py-spy (`pip install py-spy`) samples every
thread of those processes while it holds the GIL (`--gil`: CPU spent in Python, not waiting)
during that window; the top functions by own and by inclusive share of the samples are
printed. Sampling slows the server, so take the CPU figure from a run without.
Issue 18 item 5 records these before and after.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench import chat_http
from bench.databases import DEFAULT_PG, Databases, pg_reason

PY_SPY = str(Path(sys.executable).with_name("py-spy"))


def measure(
    url: str,
    workdir: Path,
    *,
    text: str,
    rate: float,
    seconds: float,
    profile: str | None,
    workers: int = 0,
) -> dict[str, Any]:
    """Warm the server up, then measure one fixed-rate phase; CPU per answered command."""
    from tests.fakes.slack import FakeSlack

    port = chat_http.free_port()
    with FakeSlack(bot_token=chat_http.BOT_TOKEN) as fake:
        config = f"[chat]\nworkers = {workers}\n"
        server = chat_http.start("coverwatch", port, fake.api_url, url, workdir, config=config)
        try:
            chat_http.wait_healthy(port, server)
            responses = fake.response_url("")
            warm = chat_http.loadgen("rate", port, responses, 0, rate=20, seconds=2, text=text)
            chat_http.wait_replies(fake, chat_http.answers_owed(warm), 30)
            outbox_wait = chat_http.wait_outbox(url)
            chat_http.wait_quiet(server.pid)
            spy = _spy(server.pid, profile) if profile else None
            before, db_before = chat_http.cpu_seconds(server.pid), chat_http.db_cpu(url)
            serving_before = chat_http.cpu_seconds(server.pid, children=False)
            commits_before = _commits(url)
            phase = chat_http.loadgen(
                "rate", port, responses, 100_000, rate=rate, seconds=seconds, text=text
            )
            owed = chat_http.answers_owed(warm) + chat_http.answers_owed(phase)
            chat_http.wait_replies(fake, owed, 60)
            used = chat_http.cpu_seconds(server.pid) - before
            serving = chat_http.cpu_seconds(server.pid, children=False) - serving_before
            db_after = chat_http.db_cpu(url)
            commits = _commits(url) - commits_before
            answered = len(fake.responses) - chat_http.answers_owed(warm)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
                spy.wait(30)
        finally:
            chat_http.stop(server)
    result: dict[str, Any] = {
        "text": text,
        "workers": workers,
        "answered": answered,
        "sent": phase["ok"],
        "cpu_ms_per_answer": round(1000 * used / max(answered, 1), 3),
        "serving_cpu_ms_per_answer": round(1000 * serving / max(answered, 1), 3),
        "p99_ms": round(phase["p99_ms"], 1),
        "outbox_wait_s": round(outbox_wait, 1),
    }
    if db_after:
        db_used = chat_http.db_cpu_used(db_before, db_after)
        result["db_cpu_ms_per_answer"] = round(1000 * db_used / max(answered, 1), 3)
        result["db_backends"] = len(db_after)
        result["db_backends_ended"] = len(set(db_before) - set(db_after))
        result["transactions_per_answer"] = round(commits / max(answered, 1), 2)
    return result


def _commits(url: str) -> int:
    """Transactions (commits and rollbacks) of the database at `url` so far; 0 on SQLite.
    The statistics are flushed by each backend at most every second: the phase's figure
    is read after the answers and so is near, not exact."""
    if not url.startswith("postgresql"):
        return 0
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        row = connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    command = [PY_SPY, "record", "--pid", str(pid), "--subprocesses", "--gil"]
    command += ["-r", "250", "-f", "raw", "-o", out]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top(profile: str, count: int) -> str:
    """The functions with the most samples: own (the innermost frame) and inclusive (anywhere
    on the stack, once per sample), as shares of all samples (of every process sampled)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in Path(profile).read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = [
            _function(frame) for frame in stack.split(";") if not frame.startswith("process ")
        ]
        if not frames:
            continue
        weight = int(samples)
        total += weight
        own[frames[-1]] += weight
        for frame in set(frames):
            inclusive[frame] += weight
    lines = [f"{total} samples holding the GIL", "own:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(count)]
    lines.append("inclusive:")
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(count)]
    return "\n".join(lines)


def _function(frame: str) -> str:
    """`handle (handlers/pipeline.py:52)` -> `handle (handlers/pipeline.py)`: one row per
    function, whatever line a sample was on."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_profile")
    parser.add_argument("--text", default="coverage", help="the command sent")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--profile", help="sample the server with py-spy, raw stacks to this file")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--workers", type=int, default=0, help="[chat] workers (0 or 1 on SQLite)")
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL (at --pg-url)")
    parser.add_argument("--pg-url", default=os.environ.get("COVERWATCH_BENCH_PG", DEFAULT_PG))
    args = parser.parse_args(argv)
    if args.pg and (reason := pg_reason(args.pg_url)):
        parser.exit(1, f"{reason}\n")
    with tempfile.TemporaryDirectory(prefix="cwprofile-") as scratch:
        workdir = Path(scratch)
        db = Databases("postgres" if args.pg else "sqlite", workdir, args.pg_url)
        try:
            template = db.template(f"chat_{chat_http.USERS}", chat_http.seed)
            result = measure(
                db.copy(template, "profile"),
                workdir,
                text=args.text,
                rate=args.rate,
                seconds=args.seconds,
                profile=args.profile,
                workers=args.workers,
            )
        finally:
            db.close()
    print(result)
    if args.profile:
        print(top(args.profile, args.top))


if __name__ == "__main__":
    main(sys.argv[1:])
