"""/api/v1/incidents/{id}/actions: containment actions of an incident: preview, propose,
approve, cancel, undo, release one account. Views parse, call crisis.containment.service,
commit, serialize; the platform is called by the job after commit, never here."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from crisis.api.errors import abort
from crisis.api.staff import community_row, current_user, field, json_body, require, unprocessable
from crisis.clock import isoformat
from crisis.containment import kinds, service
from crisis.containment.kinds import DEFAULT_TARGETS
from crisis.models import ContainmentAction, ContainmentMove, Incident, Role
from crisis.playbooks import parse_duration
from crisis.webctx import db, rt

bp = Blueprint("api_containment", __name__)


def serialize(action: ContainmentAction, moves: list[ContainmentMove] | None = None) -> dict[str, Any]:
    kind = kinds.get(action.kind)
    data: dict[str, Any] = {
        "id": action.id, "incident_id": action.incident_id, "kind": action.kind, "label": kind.label,
        "description": service.describe(action), "status": action.status, "executor": action.executor,
        "reversible": kind.reversible, "confirm": kind.confirm, "approve_role": action.approve_role,
        "step": action.step_id or None, "params": action.params, "rooms": action.rooms, "targets": action.targets,
        "excluded": action.excluded, "expires_after_s": action.expires_after_s,
        "expires_at": isoformat(action.expires_at) if action.expires_at else None,
        "approved_at": isoformat(action.approved_at) if action.approved_at else None,
        "applied_at": isoformat(action.applied_at) if action.applied_at else None,
        "reverted_at": isoformat(action.reverted_at) if action.reverted_at else None,
        "proposed_by": action.proposed_by, "approved_by": action.approved_by or None,
        "reverted_by": action.reverted_by or None, "attempts": action.attempts, "last_error": action.last_error,
        "task_id": action.task_id, "created_at": isoformat(action.created_at),
    }
    if moves is not None:
        data["moves"] = [{"from": m.from_status or None, "to": m.to_status, "actor": m.actor, "note": m.note,
                          "at": isoformat(m.at)} for m in moves]
    return data


def _incident(incident_id: int, minimum: Role, what: str) -> Incident:
    return community_row(Incident, incident_id, "incident", minimum, what)


def _action(incident: Incident, action_id: int) -> ContainmentAction:
    action = db().get(ContainmentAction, action_id)
    if action is None or action.incident_id != incident.id:
        abort(404, "not_found", f"incident {incident.id} has no action {action_id}")
    return action


def _moves(action: ContainmentAction) -> list[ContainmentMove]:
    return list(db().scalars(select(ContainmentMove).where(ContainmentMove.action_id == action.id)
                             .order_by(ContainmentMove.id)))


def _who() -> tuple[str, int]:
    user = current_user()
    return user.display_name or user.email, user.id


def _limit(raw: Any) -> int:
    if raw is None:
        return DEFAULT_TARGETS
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        abort(400, "bad_request", f"limit: {raw!r} is not a positive integer")
    return int(raw)


@bp.get("/api/v1/incidents/<int:incident_id>/actions")
def list_actions(incident_id: int) -> Response:
    incident = _incident(incident_id, Role.MODERATOR, "this")
    return jsonify({"actions": [serialize(a, _moves(a)) for a in service.for_incident(db(), incident.id)],
                    "kinds": {k.name: {"label": k.label, "reversible": k.reversible, "confirm": k.confirm,
                                       "approve_role": k.approve_role.value, "aims_at": k.aims_at,
                                       "params": {p: list(v) for p, v in k.params.items()}}
                              for k in kinds.KINDS.values()}})


@bp.get("/api/v1/incidents/<int:incident_id>/actions/preview")
def preview(incident_id: int) -> Response:
    incident = _incident(incident_id, Role.MODERATOR, "this")
    try:
        return jsonify(service.preview(db(), incident, request.args.get("kind", ""),
                                       limit=_limit(request.args.get("limit"))))
    except service.ContainmentError as exc:
        abort(400, "bad_query", str(exc))


@bp.post("/api/v1/incidents/<int:incident_id>/actions")
def propose(incident_id: int) -> tuple[Response, int]:
    incident = _incident(incident_id, Role.MODERATOR, "proposing an action")
    body = json_body()
    label, user_id = _who()
    accounts = field(body, "accounts", list, required=False, default=None)
    params = field(body, "params", dict, required=False, default=None)
    raw_expiry = field(body, "expires_after", (str, int), required=False, default=None)
    try:
        expiry = parse_duration(raw_expiry) if raw_expiry is not None else None
    except ValueError as exc:
        unprocessable(f"expires_after: {exc}")
    approve_now = field(body, "approve", bool, required=False, default=False)
    try:
        action = service.propose(db(), incident, field(body, "kind", str), actor=label, actor_user_id=user_id,
                                 now=rt().clock.now(), params=params, accounts=accounts, expires_after=expiry,
                                 limit=_limit(body.get("limit")))
        if approve_now:
            role = require(incident.community_id, Role.MODERATOR, "approving an action", not_found="incident")
            service.approve(db(), action, actor=label, actor_user_id=user_id, role=role, now=rt().clock.now(),
                            confirm=field(body, "confirm", bool, required=False, default=False))
    except service.NotAllowed as exc:
        db().rollback()
        abort(403, "forbidden", str(exc))
    except service.ContainmentError as exc:
        db().rollback()
        unprocessable(str(exc))
    db().commit()
    db().refresh(action)  # inline jobs (tests) may have carried it out on commit
    return jsonify(serialize(action, _moves(action))), 201


@bp.get("/api/v1/incidents/<int:incident_id>/actions/<int:action_id>")
def get_action(incident_id: int, action_id: int) -> Response:
    action = _action(_incident(incident_id, Role.MODERATOR, "this"), action_id)
    return jsonify(serialize(action, _moves(action)))


@bp.post("/api/v1/incidents/<int:incident_id>/actions/<int:action_id>/<any(approve, cancel, undo, release):verb>")
def act(incident_id: int, action_id: int, verb: str) -> Response:
    incident = _incident(incident_id, Role.MODERATOR, f"{verb} an action")
    action = _action(incident, action_id)
    body = json_body()
    label, user_id = _who()
    now = rt().clock.now()
    try:
        if verb == "approve":
            role = require(incident.community_id, Role.MODERATOR, "approving an action", not_found="incident")
            service.approve(db(), action, actor=label, actor_user_id=user_id, role=role, now=now,
                            confirm=field(body, "confirm", bool, required=False, default=False))
        elif verb == "cancel":
            service.cancel(db(), action, actor=label, actor_user_id=user_id, now=now,
                           note=field(body, "note", str, required=False, default=""))
        elif verb == "undo":
            service.undo(db(), action, actor=label, actor_user_id=user_id, now=now)
        else:
            service.release(db(), action, field(body, "account", str), actor=label, actor_user_id=user_id, now=now)
    except service.NotAllowed as exc:
        db().rollback()
        abort(403, "forbidden", str(exc))
    except service.ContainmentError as exc:
        db().rollback()
        if str(exc).startswith("status:"):
            abort(409, "invalid_transition", str(exc), current_status=action.status)
        unprocessable(str(exc))
    db().commit()
    db().refresh(action)
    return jsonify(serialize(action, _moves(action)))
