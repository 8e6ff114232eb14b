"""JSON API blueprints."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from crisis.api import errors, health, ingest, openapi, settings

    errors.init_app(app)
    for module in (health, ingest, openapi, settings):
        app.register_blueprint(module.bp)
