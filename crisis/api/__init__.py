"""JSON API blueprints."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from crisis.api import errors, health, ingest, openapi

    errors.init_app(app)
    for module in (health, ingest, openapi):
        app.register_blueprint(module.bp)
