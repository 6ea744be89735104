"""The OpenAPI 3.1 document, generated from `routes.ENDPOINTS` and the pydantic models that
validate the requests (OpenAPI 3.1 schemas are JSON Schema 2020-12, which pydantic writes)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.api.models import Errors
from bot.api.routes import ENDPOINTS, Endpoint

REFS = "#/components/schemas/{model}"
OPENAPI_PATH = "/openapi.json"
_REFUSALS = {
    "400": "Malformed body or header",
    "401": "Missing, unknown or revoked token",
    "403": "The token lacks this endpoint's scope",
    "404": "Not found",
    "413": "Body over [http] max_body_bytes",
    "422": "Invalid items or parameters: nothing was written",
    "429": "Over the token's rate; see Retry-After",
}


def openapi_document(version: str) -> dict[str, Any]:
    answers: list[type[BaseModel]] = [Errors, *(e.answer for e in ENDPOINTS if e.answer)]
    _, defs = models_json_schema([(model, "serialization") for model in answers], ref_template=REFS)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, schemas)
    paths[OPENAPI_PATH] = {
        "get": {
            "summary": "This document (no token needed)",
            "operationId": "openapi",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "coverwatch API",
            "version": version,
            "description": "Payments, balances and people in; dues, alerts and cover out. "
            "Amounts are strings with two decimals; dates ISO-8601; periods YYYY-MM.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "coverwatch token create --name NAME --scope SCOPE[,SCOPE…]",
                }
            },
        },
    }


def _operation(endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": True, "description": text}
        | {"schema": {"type": "string"}}
        for name, text in endpoint.query
    ]
    words = re.sub(r"[^a-z]+", "_", endpoint.path).strip("_")
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": f"{endpoint.method.lower()}_{words}",
        "description": f"Scope: `{endpoint.scope}`.",
        "parameters": parameters,
        "responses": {
            "200": _json(endpoint.answer.__name__ if endpoint.answer else None, "Done"),
            **{status: _json("Errors", text) for status, text in _REFUSALS.items()},
        },
    }
    if endpoint.body is not None:
        body = endpoint.body.json_schema(ref_template=REFS)
        schemas.update(body.pop("$defs", {}))
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key gets the first answer; nothing is "
                "written twice. Keys belong to the token.",
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    return operation


def _json(model: str | None, description: str) -> dict[str, Any]:
    if model is None:
        return {"description": description}
    schema = {"$ref": REFS.format(model=model)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}
