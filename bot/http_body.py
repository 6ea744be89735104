"""Request bodies read with a ceiling: `[http] max_body_bytes` (ARCHITECTURE.md §3, "a body
over max_body_bytes is 413 before any parsing"), for the platforms' routes and the API alike."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes ([http] max_body_bytes)")
        self.limit = limit


async def read_capped(request: Request, limit: int) -> bytes:
    """The body; `BodyTooLarge` as soon as it is known to exceed `limit` bytes: from
    Content-Length before anything is read, else while it streams in (chunked bodies), so a
    stranger's 100 MB upload is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
