"""/api/v1/communities/<slug>/integrations: a community's alert integrations. Creating one
or rotating its key answers the key once; crisis keeps only its hash."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from crisis.alert_intake import integrations
from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, community_row, current_user, field, json_body
from crisis.models import AlertIntegration, Role
from crisis.tenancy.communities import Conflict
from crisis.webctx import db, rt

bp = Blueprint("api_integrations", __name__)


def _with_key(integration: AlertIntegration, key: str, status: int) -> tuple[Response, int]:
    resp = jsonify({"integration": integrations.summary(integration), "key": key,
                    "endpoint": rt().config.base_url + integrations.ENDPOINTS[integration.kind],
                    "note": "the key is shown this once; crisis stores only its hash"})
    resp.headers["Cache-Control"] = "no-store"  # the key must not stay in any cache
    return resp, status


@bp.get("/api/v1/communities/<slug>/integrations")
def list_integrations(slug: str) -> Response:
    community = community_by_slug(slug, Role.MANAGER, "reading alert integrations")
    return jsonify({"integrations": [integrations.summary(i) for i in integrations.of_community(db(), community.id)]})


@bp.post("/api/v1/communities/<slug>/integrations")
def add_integration(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.ADMIN, "adding an alert integration")
    body = json_body()
    try:
        issued = integrations.create(
            db(), community, kind=field(body, "kind", str), name=field(body, "name", str), clock=rt().clock,
            incident_kind=field(body, "incident_kind", str, required=False, default="alert"),
            default_severity=field(body, "default_severity", str, required=False, default="sev3"),
            playbook=field(body, "playbook", str, required=False),
            severity_label=field(body, "severity_label", str, required=False, default="severity"),
            severity_map=field(body, "severity_map", dict, required=False),
            field_paths=field(body, "field_paths", dict, required=False),
            auto_resolve=field(body, "auto_resolve", bool, required=False, default=True),
            reopen_within_s=field(body, "reopen_within_s", int, required=False,
                                  default=integrations.DEFAULT_REOPEN_WITHIN_S),
            actor=current_user().email, actor_user_id=current_user().id)
    except Conflict as exc:
        abort(409, "conflict", str(exc))
    except integrations.IntegrationError as exc:
        message = str(exc)
        abort(422, "invalid", message, field=message.split(":", 1)[0])
    db().commit()
    return _with_key(issued.integration, issued.key, 201)


@bp.post("/api/v1/integrations/<int:integration_id>/rotate")
def rotate_key(integration_id: int) -> tuple[Response, int]:
    integration = community_row(AlertIntegration, integration_id, "integration", Role.ADMIN,
                                "rotating an integration key")
    key = integrations.rotate(db(), integration, clock=rt().clock, actor=current_user().email,
                              actor_user_id=current_user().id)
    db().commit()
    return _with_key(integration, key, 200)
