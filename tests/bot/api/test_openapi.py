"""GET /api/v1/openapi.json: every served route is documented, from the validating models."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from bot.api import api_app
from bot.api.models import MAX_ITEMS
from tests.support.api import Api


def test_every_route_is_in_the_document(api: Api) -> None:
    answer = api.client.get("/api/v1/openapi.json")  # no token needed for the contract
    document = answer.json()

    served = {
        (route.path, method.lower())
        for route in api_app(api.service).routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert answer.status_code == 200
    assert document["openapi"] == "3.1.0"
    assert served == documented
    assert {
        ("/payments", "post"),
        ("/balances", "post"),
        ("/employees", "post"),
        ("/employees/{employee_id}", "put"),
        ("/dues", "get"),
        ("/alerts", "get"),
        ("/employees/{employee_id}/coverage", "get"),
        ("/openapi.json", "get"),
    } == served
    assert document["servers"] == [{"url": "/api/v1"}]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_request_schemas_come_from_the_importers_columns(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").json()
    payments = document["paths"]["/payments"]["post"]
    body = payments["requestBody"]["content"]["application/json"]["schema"]
    item = _resolve(document, body["items"])

    assert (body["type"], body["minItems"], body["maxItems"]) == ("array", 1, MAX_ITEMS)
    assert set(item["properties"]) >= {"account", "period", "amount", "paid_on"}
    assert item["required"] == ["account", "period", "amount", "paid_on"]
    assert item["additionalProperties"] is False
    assert "Idempotency-Key" in {p["name"] for p in payments["parameters"]}
    employees = document["paths"]["/employees"]["post"]["requestBody"]["content"]
    assert _resolve(document, employees["application/json"]["schema"]["items"])["required"] == [
        "employee_id"
    ]
    dues = document["paths"]["/dues"]["get"]
    assert dues["parameters"][0]["name"] == "period"
    answer = dues["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(_resolve(document, answer)["properties"]) == {"period", "accounts", "employees"}
    assert dues["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Errors"
    }


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_every_reference_resolves(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]

    refs = _refs(document)

    assert refs and all(ref.startswith("#/components/schemas/") for ref in refs)
    assert {ref.rsplit("/", 1)[1] for ref in refs} <= set(schemas)
