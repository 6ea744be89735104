"""Checks `coverwatch run` makes before it starts anything, so a common mistake is one
`error:` line with the fix instead of uvicorn's two tracebacks (issue 16: a port in use gave
68 lines)."""

from __future__ import annotations

import errno
import socket
from contextlib import closing

from bot.app import AppError


def check_port_free(host: str, port: int) -> None:
    """Raise `AppError` when nothing can listen on (host, port). A probe, not a reservation:
    SO_REUSEADDR as uvicorn sets it, so a socket in TIME_WAIT does not count as taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise AppError(f"[http] host {host!r}: not a known address ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with closing(socket.socket(family, kind, proto)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise AppError(_bind_reason(host, port, exc)) from None


def _bind_reason(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {where} is already in use (another coverwatch still running?): stop it, or "
            "set [http] port (COVERWATCH_HTTP__PORT) to a free port"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to listen on {where}: use a port above 1023 behind a proxy"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: set [http] host (0.0.0.0 for all)"
    return f"cannot listen on {where}: {exc.strerror}"
