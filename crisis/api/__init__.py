"""JSON API blueprints."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from crisis.api import (
        alerts,
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
        members,
        oncall,
        openapi,
        playbooks,
        risks,
    )

    errors.init_app(app)
    for module in (health, ingest, openapi, community_settings, incidents, playbooks, oncall, channels, matrix,
                   links, alerts, integrations, containment, risks, members):
        app.register_blueprint(module.bp)
