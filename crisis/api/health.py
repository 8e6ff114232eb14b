"""Liveness and readiness probes."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from crisis.webctx import rt

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    problems: dict[str, str] = {}
    try:
        with rt().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        problems["database"] = f"unreachable: {type(exc).__name__}"
    try:
        rt().redis.ping()
    except Exception as exc:  # noqa: BLE001
        problems["redis"] = f"unreachable: {type(exc).__name__}"
    if problems:
        return jsonify({"status": "unavailable", "problems": problems,
                        "message": "not ready: " + ", ".join(sorted(problems))}), 503
    return jsonify({"status": "ready"}), 200
