"""JSON API blueprints (and the acknowledge-link pages, which share the API's runtime)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from crisis import acklinks
    from crisis.api import channels, errors, health, incidents, ingest, oncall, openapi, playbooks, settings

    errors.init_app(app)
    for module in (health, ingest, openapi, settings, incidents, playbooks, oncall, channels, acklinks):
        app.register_blueprint(module.bp)
