"""Every refusal of the API has one shape: `{"errors": [{"index", "field", "message"}]}`.

Handlers raise `ApiProblem`; `routes.route` turns it into the response, so no path can
answer with another shape (or with a 500 for a client's mistake).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.api.models import ErrorItem, Errors
from bot.http_body import BodyNotRead, BodyTooLarge, read_capped


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
    """The body, or 413 in the API's shape once it exceeds `limit` bytes (`read_capped`)."""
    try:
        return await read_capped(request, limit)
    except BodyTooLarge as exc:
        raise ApiProblem.of(413, str(exc)) from None
    except BodyNotRead as exc:
        raise ApiProblem.of(exc.status, str(exc)) from None
