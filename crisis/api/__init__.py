"""JSON API blueprints."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from crisis.api import (
        alerts,
        audit,
        campaigns,
        cases,
        channels,
        community_settings,
        containment,
        data,
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
        penalties,
        playbooks,
        risks,
        rules,
    )

    errors.init_app(app)
    for module in (health, ingest, openapi, community_settings, incidents, playbooks, oncall, channels, matrix,
                   links, alerts, integrations, containment, audit, data, rules, penalties, cases, risks,
                   members, campaigns):
        app.register_blueprint(module.bp)
