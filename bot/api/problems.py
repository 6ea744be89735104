"""Every refusal of the API has one shape: `{"errors": [{"index", "field", "message"}]}`.

Handlers raise `ApiProblem`; `routes.endpoint` turns it into the response, so no path can
answer with another shape (or with a 500 for a client's mistake).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.models import ErrorItem, Errors


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        errors: Sequence[ErrorItem],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = list(errors)
        self.headers = dict(headers or {})

    @classmethod
    def of(
        cls,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiProblem:
        return cls(status, [ErrorItem(index=None, field=field, message=message)], headers)

    def response(self) -> JSONResponse:
        body = Errors(errors=self.errors).model_dump(mode="json")
        return JSONResponse(body, status_code=self.status, headers=self.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes: from
    Content-Length before reading anything, else while it streams in (chunked bodies)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem.of(413, f"body larger than {limit} bytes ([http] max_body_bytes)")
