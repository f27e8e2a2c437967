"""The published contract and the served app must name the same operations and codes, so neither drifts alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from horus.adapters.http.error_table import ERROR_TABLE, INVALID_CLIENT, METHOD_NOT_ALLOWED, NOT_FOUND
from horus.adapters.http.operations import OPERATOR_LISTENER
from horus.app import create_app
from tests.conftest import make_container

CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "horus.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Litestar adds OPTIONS to every path by itself; HEAD, where served, is GET without a body.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


def load_contract() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    return document


def resolved(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follows local $refs ("#/components/...") until a node without one."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def contract_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper()) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }


def is_operator_route(route: Any) -> bool:
    handlers = getattr(route, "route_handlers", None) or [route.route_handler]  # an HTTP route has several
    return any(handler.opt.get("listener") == OPERATOR_LISTENER["listener"] for handler in handlers)


def served_operations() -> set[tuple[str, str]]:
    """What the public listener serves: the operator listener's routes (/metrics) are not in this contract."""
    app = create_app(make_container())
    routes = {
        (route.path, method)
        for route in app.litestar.routes
        if not is_operator_route(route)
        for method in route.methods
    }
    token_endpoints = {(path, "POST") for path in app.token_paths}  # they answer every other method with 405
    return {(path, method) for path, method in routes if method not in IMPLICIT_METHODS} | token_endpoints


def envelope_codes(document: dict[str, Any], response: dict[str, Any]) -> set[int]:
    """The six-digit codes a legacy-envelope response names in its schema (none for other envelopes)."""
    schema = resolved(document, response).get("content", {}).get("application/json", {}).get("schema", {})
    codes: set[int] = set()
    for part in [schema, *schema.get("allOf", [])]:
        code = resolved(document, part).get("properties", {}).get("code", {})
        codes.update(code.get("enum", []))
        if "const" in code:
            codes.add(code["const"])
    return codes


def test_every_served_route_is_in_the_contract_and_nothing_else() -> None:
    expected = contract_operations(load_contract())
    actual = served_operations()
    assert expected == actual


def test_every_code_in_the_contract_is_in_the_code_table_under_its_own_http_status() -> None:
    document = load_contract()
    responses = [
        (int(status), response)
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for status, response in operation["responses"].items()
    ]
    responses += [(NOT_FOUND.status, document["components"]["responses"]["NotFound"])]
    named = {(status, code) for status, response in responses for code in envelope_codes(document, response)}
    statuses = {row.code: row.status for row in ERROR_TABLE}
    expected = {(statuses[code], code) for _, code in named}
    assert expected == named
    assert {METHOD_NOT_ALLOWED.code, NOT_FOUND.code, INVALID_CLIENT.code} <= {code for _, code in named}
