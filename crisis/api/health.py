"""Liveness and readiness probes, and the Prometheus scrape endpoint."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from crisis.insight import scrape
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


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format. Not authenticated: keep it off the public proxy (docs/deploy.md)."""
    runtime = rt()
    body = scrape.render(runtime.sessions, runtime.redis, runtime.config.var_dir, runtime.clock)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
