"""Check real responses against the served OpenAPI document."""
from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from crisis.api.openapi import document


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$")


def operation(path: str, method: str) -> dict[str, Any]:
    for template, item in document()["paths"].items():
        if _template_regex(template).match(path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method.upper()} {path} is not in the OpenAPI document")


def _resolve_response(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = doc["components"]["responses"][name]
    return response


def assert_matches_spec(path: str, method: str, status: int, body: Any) -> None:
    doc = document()
    responses = operation(path, method)["responses"]
    response = responses.get(str(status)) or responses.get("default")
    assert response is not None, f"{method.upper()} {path} answered {status}, which the document does not list"
    response = _resolve_response(doc, response)
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return
    registry = Registry().with_resource("urn:crisis", Resource.opaque(_rebase(doc)))
    validator = Draft202012Validator(
        _rebase(schema), registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{method.upper()} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])


def _rebase(node: Any) -> Any:
    """Point local '#/components/...' refs at the registered document, and read OpenAPI 3.0's
    `nullable: true` as JSON Schema's null type."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node = {**{k: v for k, v in node.items() if k != "nullable"}, "type": [node["type"], "null"]}
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        return {k: ("urn:crisis" + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node
