"""The API's request and response models: what validates a body is what the OpenAPI document
describes (`openapi.py` reads the same classes).

Item models are generated from the importers' `COLUMNS`, so a column added to a file is a field
of the API at once. They check the envelope only — a JSON array of 1 to `MAX_ITEMS` objects
whose known fields hold JSON scalars. Everything else — unknown or missing fields, what a value
means (an account, a period, an amount with two decimals, a manager who exists) — is decided by
the importers' own rules (`storage.imports`), one set for files and items alike, so every
problem of a batch is reported at once. The schema states those rules for readers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from storage.imports import balances, employees, payments
from storage.imports.table import Column
from storage.payments import DUES, PAYMENT_KINDS

MAX_ITEMS = 10_000
"""Per request: a day of a large company's payments fits; a bigger load is a file import."""

_MONEY = {"type": ["string", "number"], "examples": ["1234.50"], "description": "two decimals"}
_DATE = {"type": "string", "format": "date", "examples": ["2026-11-03"]}
_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "amount": _MONEY,
    "balance": _MONEY,
    "salary": _MONEY,
    "period": {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-10"]},
    "paid_on": _DATE,
    "as_of": _DATE,
    "hire_date": _DATE,
    "enrolled_on": _DATE,
    "leave_date": _DATE,
    "kind": {"type": "string", "enum": list(PAYMENT_KINDS), "default": DUES},
    "role": {"type": "string", "enum": list(employees.ROLES)},
}


def _scalar(value: object) -> object:
    if isinstance(value, list | dict):
        raise PydanticCustomError("scalar", "expected a string, number or null")
    return value


def _field(column: Column) -> Any:
    schema = dict(_FIELD_SCHEMAS.get(column.name, {"type": "string"}))
    if not column.required:
        schema = {"anyOf": [schema, {"type": "null"}]}
    described = Annotated[Any, PlainValidator(_scalar), WithJsonSchema(schema)]
    return (described, None)


def item_model(name: str, columns: tuple[Column, ...], required: list[str]) -> type[BaseModel]:
    """Extra fields are kept for the importer to refuse ("unknown field"), with the rest."""
    fields = {column.name: _field(column) for column in columns}
    schema: JsonDict = {"required": list(required), "additionalProperties": False}
    config = ConfigDict(extra="allow", title=name, json_schema_extra=schema)
    model: type[BaseModel] = create_model(name, __config__=config, **fields)
    return model


def _required(columns: tuple[Column, ...]) -> list[str]:
    return [column.name for column in columns if column.required]


PaymentItem = item_model("PaymentItem", payments.COLUMNS, _required(payments.COLUMNS))
BalanceItem = item_model("BalanceItem", balances.COLUMNS, _required(balances.COLUMNS))
EmployeeItem = item_model("EmployeeItem", employees.COLUMNS, ["employee_id"])
"""Only the id is always required: a field left out is unchanged (a new employee's item needs
every required column; the importer says which is missing)."""
EmployeeUpdate = item_model("EmployeeUpdate", employees.COLUMNS, [])
"""`PUT /employees/{id}`: the id comes from the path."""


def batch_of(model: type[BaseModel]) -> TypeAdapter[Any]:
    """A JSON array of 1 to `MAX_ITEMS` items of `model`."""
    shape: Any = Annotated[list[model], Field(min_length=1, max_length=MAX_ITEMS)]  # type: ignore[valid-type]
    return TypeAdapter(shape)


class ErrorItem(BaseModel):
    index: int | None = Field(description="the item, counted from 0; null for the request")
    field: str | None = Field(description="the item's field, or the query parameter")
    message: str


class Errors(BaseModel):
    errors: list[ErrorItem]


class WriteResult(BaseModel):
    rows: int = Field(description="items read")
    created: int
    updated: int = Field(description="existing records whose values changed")


_MESSAGES = {
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "list_type": "expected a JSON array of items",
    "too_short": "expected at least one item",
    "too_long": f"at most {MAX_ITEMS:,} items per request",
}


def validation_errors(exc: ValidationError, *, batch: bool) -> list[ErrorItem]:
    """pydantic's locations as (index, field); the messages in the importers' words."""
    found: list[ErrorItem] = []
    for error in exc.errors(include_url=False):
        location = list(error["loc"])
        index: int | None = None
        if batch and location and isinstance(location[0], int):
            index = location[0]
            del location[0]
        field = str(location[0]) if location else None
        message = _MESSAGES.get(error["type"], error["msg"])
        if error["type"] == "json_invalid":
            message = f"body is not valid JSON: {error['ctx'].get('error', '')}".rstrip(": ")
        found.append(ErrorItem(index=index, field=field, message=message))
    return found
