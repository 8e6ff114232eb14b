"""The OpenAPI document, assembled from one YAML fragment per API area."""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__)
FRAGMENTS = Path(__file__).parent / "spec"


@cache
def document() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((FRAGMENTS / "base.yaml").read_text())
    for path in sorted(FRAGMENTS.glob("*.yaml")):
        if path.name == "base.yaml":
            continue
        part = yaml.safe_load(path.read_text()) or {}
        doc.setdefault("paths", {}).update(part.get("paths", {}))
        for key, items in part.get("components", {}).items():
            doc.setdefault("components", {}).setdefault(key, {}).update(items)
    return doc


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
