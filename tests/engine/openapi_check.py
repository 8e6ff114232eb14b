"""Validate real responses against the assembled OpenAPI document with jsonschema_rs.

OpenAPI 3.0 schemas are almost JSON Schema; `nullable: true` is the difference, turned
here into anyOf [..., null]."""
from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
from werkzeug.test import TestResponse

from crisis.api.openapi import document


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _operation(path: str, method: str) -> dict[str, Any]:
    doc = document()
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def check(response: TestResponse, path: str, method: str = "GET") -> Any:
    """Assert the response's status is documented and its JSON body matches the schema."""
    operation = _operation(path.split("?", 1)[0], method)
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: status {status} is not documented"
    spec = operation["responses"][status]
    if "$ref" in spec:
        spec = document()["components"]["responses"][spec["$ref"].rsplit("/", 1)[-1]]
    content = spec.get("content", {}).get("application/json")
    if content is None:
        return None
    body = response.get_json()
    schema = {**_convert(content["schema"]), "components": _convert(document()["components"])}
    errors = [f"{e.instance_path}: {e.message}" for e in jsonschema_rs.validator_for(schema).iter_errors(body)]
    assert not errors, f"{method} {path} {status} does not match the spec: {errors[:5]}"
    return body
