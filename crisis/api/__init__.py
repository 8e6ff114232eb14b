"""JSON API blueprints."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from crisis.api import (
        alerts,
        campaigns,
        channels,
        community_settings,
        containment,
        errors,
        health,
        incidents,
        ingest,
        integrations,
        links,
        matrix,
        oncall,
        openapi,
        playbooks,
    )

    errors.init_app(app)
    for module in (health, ingest, openapi, community_settings, incidents, playbooks, oncall, channels, matrix,
                   links, alerts, integrations, containment, campaigns):
        app.register_blueprint(module.bp)
