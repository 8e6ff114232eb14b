"""/api/v1/incidents: list, open by hand, read with timeline and tasks, and every change.

Views parse, call crisis.response.lifecycle / crisis.response.steps, commit, serialize. Illegal status
moves answer 409 and change nothing."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from crisis.api import serialize
from crisis.api.errors import abort
from crisis.api.staff import (
    community_by_slug,
    community_row,
    current_user,
    field,
    json_body,
    my_community_ids,
    require,
    unprocessable,
)
from crisis.cases import service as cases
from crisis.containment import service as containment
from crisis.models import Incident, Membership, Notification, Role, Task, User
from crisis.moderation.penalties import By
from crisis.response import lifecycle, steps
from crisis.response.states import ACTIONS, SEVERITIES, IncidentStatus, InvalidTransition
from crisis.webctx import db, rt

bp = Blueprint("api_incidents", __name__)
MAX_LIMIT = 200


def _incident(incident_id: int, minimum: Role = Role.MODERATOR, what: str = "this") -> Incident:
    return community_row(Incident, incident_id, "incident", minimum, what)


def _detail(incident: Incident) -> dict[str, object]:
    return serialize.incident_detail(db(), incident, viewer_id=current_user().id, now=rt().clock.now())


def _actor() -> lifecycle.Actor:
    return lifecycle.Actor.of(current_user())


@bp.get("/api/v1/incidents")
def list_incidents() -> Response:
    current_user()
    query = select(Incident)
    slug = request.args.get("community")
    if slug:
        query = query.where(Incident.community_id == community_by_slug(slug).id)
    else:
        query = query.where(Incident.community_id.in_(my_community_ids()))
    status = request.args.get("status")
    if status:
        if status not in {s.value for s in IncidentStatus}:
            abort(400, "bad_query", f"status: {status!r} is not one of {', '.join(s.value for s in IncidentStatus)}")
        query = query.where(Incident.status == status)
    severity = request.args.get("severity")
    if severity:
        if severity not in SEVERITIES:
            abort(400, "bad_query", f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
        query = query.where(Incident.severity == severity)
    if request.args.get("kind"):
        query = query.where(Incident.kind == request.args["kind"])
    try:
        limit = min(int(request.args.get("limit", 50)), MAX_LIMIT)
    except ValueError:
        abort(400, "bad_query", f"limit: {request.args['limit']!r} is not an integer")
    rows = db().scalars(query.order_by(Incident.id.desc()).limit(limit))
    return jsonify({"incidents": [serialize.incident_summary(db(), i) for i in rows]})


@bp.post("/api/v1/incidents")
def open_incident() -> tuple[Response, int]:
    current_user()  # who is asking comes before what they sent
    body = json_body()
    community = community_by_slug(field(body, "community", str), Role.MODERATOR, "opening an incident")
    try:
        incident = lifecycle.open_manual(
            db(), community, kind=field(body, "kind", str), severity=field(body, "severity", str),
            title=field(body, "title", str), description=field(body, "description", str, required=False, default=""),
            actor=_actor(), clock=rt().clock)
    except lifecycle.LifecycleError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify(_detail(incident)), 201


@bp.get("/api/v1/incidents/<int:incident_id>")
def get_incident(incident_id: int) -> Response:
    return jsonify(_detail(_incident(incident_id)))


@bp.post("/api/v1/incidents/<int:incident_id>/<any(acknowledge, mitigate, resolve, reopen):action>")
def move(incident_id: int, action: str) -> Response:
    incident = _incident(incident_id, Role.RESPONDER, f"{action} an incident")
    body = json_body()
    note = field(body, "note", str, required=False, default="")
    revert = field(body, "revert_actions", bool, required=False, default=False)
    close = field(body, "close_cases", dict, required=False, default=None)
    confirm = field(body, "confirm", bool, required=False, default=False)
    try:
        lifecycle.transition(db(), incident.id, ACTIONS[action], actor=_actor(), clock=rt().clock, note=note,
                             confirm=confirm)
        if revert and action == "resolve":
            containment.undo_in_force(db(), incident, actor=_actor().label, actor_user_id=_actor().user_id,
                                      now=rt().clock.now())
        if close is not None and action == "resolve":
            # Same transaction as the resolution: the incident and its cases close together, or neither.
            user = current_user()
            cases.close_for_incident(db(), incident, field(close, "decision", str),
                                     by=By(user.display_name or user.email, user.id,
                                           require(incident.community_id, Role.RESPONDER, "closing cases",
                                                   not_found="incident")),
                                     now=rt().clock.now(), outcome=field(close, "outcome", str, required=False,
                                                                         default=""))
    except cases.CaseError as exc:
        db().rollback()
        unprocessable(f"close_cases.{exc}")
    except InvalidTransition as exc:
        db().rollback()
        abort(409, "invalid_transition", str(exc), current_status=exc.old)
    except lifecycle.ConcurrentTransition as exc:
        db().rollback()
        abort(409, "conflict", f"{exc}; reload and try again")
    except lifecycle.EpisodeStillActive as exc:
        db().rollback()
        abort(409, "episode_active", f"{exc}; send \"confirm\": true to resolve it anyway",
              field="confirm", episodes=[{"kind": e.kind, "opened_at": serialize.ts(e.opened_at),
                                          "last_signal_at": serialize.ts(e.last_signal_at)} for e in exc.episodes])
    db().commit()
    return jsonify(_detail(incident))


@bp.post("/api/v1/incidents/<int:incident_id>/notes")
def add_note(incident_id: int) -> tuple[Response, int]:
    incident = _incident(incident_id, Role.MODERATOR, "adding a note")
    try:
        lifecycle.add_note(db(), incident, field(json_body(), "text", str), actor=_actor(), clock=rt().clock)
    except lifecycle.LifecycleError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify(_detail(incident)), 201


@bp.post("/api/v1/incidents/<int:incident_id>/updates")
def post_update(incident_id: int) -> tuple[Response, int]:
    incident = _incident(incident_id, Role.RESPONDER, "posting a status update")
    body = json_body()
    public = field(body, "public", bool, required=False, default=False)
    try:
        result = lifecycle.post_update(db(), incident, field(body, "text", str), actor=_actor(), clock=rt().clock,
                                       public=public, public_title=field(body, "public_title", str, required=False))
    except lifecycle.LifecycleError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify({"recipients": result.labels, "skipped": result.skipped, "public": public,
                    "notifications": [serialize.notification(n) for n in result.notifications]}), 201


@bp.post("/api/v1/incidents/<int:incident_id>/assign")
def assign(incident_id: int) -> Response:
    incident = _incident(incident_id, Role.RESPONDER, "assigning people")
    body = json_body()
    email = field(body, "user", str)
    user = db().scalar(select(User).join(Membership, Membership.user_id == User.id)
                       .where(User.email == email.strip().lower(), Membership.community_id == incident.community_id))
    if user is None:
        abort(422, "invalid", f"user: {email!r} is not staff of this incident's community", field="user")
    try:
        lifecycle.assign(db(), incident, user, role=field(body, "role", str, required=False, default="commander"),
                         actor=_actor(), clock=rt().clock)
    except lifecycle.LifecycleError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify(_detail(incident))


@bp.post("/api/v1/incidents/<int:incident_id>/severity")
def severity(incident_id: int) -> Response:
    incident = _incident(incident_id, Role.RESPONDER, "changing severity")
    try:
        lifecycle.set_severity(db(), incident, field(json_body(), "severity", str), actor=_actor(), clock=rt().clock)
    except lifecycle.LifecycleError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify(_detail(incident))


@bp.get("/api/v1/incidents/<int:incident_id>/tasks")
def list_tasks(incident_id: int) -> Response:
    incident = _incident(incident_id)
    rows = db().scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.position))
    return jsonify({"tasks": [serialize.task(db(), t) for t in rows]})


@bp.post("/api/v1/incidents/<int:incident_id>/tasks/<int:task_id>")
def update_task(incident_id: int, task_id: int) -> Response:
    incident = _incident(incident_id, Role.MODERATOR, "updating tasks")
    task = db().get(Task, task_id)
    if task is None or task.incident_id != incident.id:
        abort(404, "not_found", f"incident {incident_id} has no task {task_id}")
    body = json_body()
    owner_email = field(body, "owner", str, required=False)
    owner_id = None
    if owner_email is not None:
        owner_id = db().scalar(select(User.id).join(Membership, Membership.user_id == User.id).where(
            User.email == owner_email.strip().lower(), Membership.community_id == incident.community_id))
        if owner_id is None:
            abort(422, "invalid", f"owner: {owner_email!r} is not staff of this incident's community", field="owner")
    user = current_user()
    try:
        steps.update_task(db(), incident, task, status=field(body, "status", str, required=False), owner_id=owner_id,
                          actor_user_id=user.id, actor_label=user.display_name or user.email, now=rt().clock.now())
    except steps.TaskError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify(serialize.task(db(), task))


@bp.get("/api/v1/incidents/<int:incident_id>/notifications")
def list_notifications(incident_id: int) -> Response:
    incident = _incident(incident_id)
    rows = db().scalars(select(Notification).where(Notification.incident_id == incident.id).order_by(Notification.id))
    return jsonify({"notifications": [serialize.notification(n) for n in rows]})
