"""/api/v1 schedules (rotations, overrides, who is on call) and the caller's contact methods."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from crisis.api import serialize
from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, community_row, current_user, field, json_body, unprocessable
from crisis.ingest.validate import parse_rfc3339
from crisis.models import ContactMethod, Role, Schedule
from crisis.notify.transport import check_url
from crisis.tenancy import oncall
from crisis.webctx import db, rt

bp = Blueprint("api_oncall", __name__)


def _schedule(schedule_id: int, minimum: Role = Role.MODERATOR, what: str = "this") -> Schedule:
    return community_row(Schedule, schedule_id, "schedule", minimum, what)


def _when(name: str, raw: str | None, *, required: bool) -> object:
    if raw is None:
        if required:
            abort(422, "invalid", f"{name}: is required (RFC 3339 time)", field=name)
        return rt().clock.now()
    parsed = parse_rfc3339(raw) if isinstance(raw, str) else None
    if parsed is None:
        abort(422 if name != "at" else 400, "invalid", f"{name}: {raw!r} is not an RFC 3339 time with a zone",
              field=name)
    return parsed


@bp.get("/api/v1/communities/<slug>/schedules")
def list_schedules(slug: str) -> Response:
    community = community_by_slug(slug)
    at = rt().clock.now()
    rows = db().scalars(select(Schedule).where(Schedule.community_id == community.id).order_by(Schedule.name))
    return jsonify({"schedules": [serialize.schedule(s, at) for s in rows]})


@bp.post("/api/v1/communities/<slug>/schedules")
def create_schedule(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug, Role.MANAGER, "creating a schedule")
    body = json_body()
    try:
        schedule = oncall.create_schedule(db(), community, name=field(body, "name", str),
                                          timezone_name=field(body, "timezone", str, required=False, default="UTC"),
                                          rotations=field(body, "rotations", list), clock=rt().clock)
    except oncall.ScheduleError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify(serialize.schedule(schedule, rt().clock.now())), 201


@bp.get("/api/v1/schedules/<int:schedule_id>")
def get_schedule(schedule_id: int) -> Response:
    schedule = _schedule(schedule_id)
    return jsonify(serialize.schedule(schedule, rt().clock.now()))


@bp.get("/api/v1/schedules/<int:schedule_id>/oncall")
def who_is_on_call(schedule_id: int) -> Response:
    schedule = _schedule(schedule_id)
    at = _when("at", request.args.get("at"), required=False)
    try:
        days = min(int(request.args.get("days", 0)), 31)
    except ValueError:
        abort(400, "bad_query", f"days: {request.args['days']!r} is not an integer")
    out = {"at": serialize.ts(at), "on_call": [serialize.shift(s) for s in oncall.on_call(schedule, at)]}  # type: ignore[arg-type]
    if days:
        out["upcoming"] = [serialize.shift(s) for s in oncall.upcoming(schedule, at, at + timedelta(days=days))]  # type: ignore[arg-type,operator]
    return jsonify(out)


@bp.post("/api/v1/schedules/<int:schedule_id>/overrides")
def add_override(schedule_id: int) -> tuple[Response, int]:
    schedule = _schedule(schedule_id, Role.RESPONDER, "adding an override")
    body = json_body()
    try:
        oncall.add_override(db(), schedule, user_id=field(body, "user_id", int),
                            starts_at=_when("starts_at", field(body, "starts_at", str), required=True),  # type: ignore[arg-type]
                            ends_at=_when("ends_at", field(body, "ends_at", str), required=True),  # type: ignore[arg-type]
                            clock=rt().clock)
    except oncall.ScheduleError as exc:
        unprocessable(str(exc))
    db().commit()
    return jsonify(serialize.schedule(schedule, rt().clock.now())), 201


@bp.get("/api/v1/me/contact-methods")
def list_contact_methods() -> Response:
    user = current_user()
    rows = db().scalars(select(ContactMethod).where(ContactMethod.user_id == user.id).order_by(ContactMethod.id))
    return jsonify({"contact_methods": [serialize.contact_method(c) for c in rows]})


@bp.post("/api/v1/me/contact-methods")
def add_contact_method() -> tuple[Response, int]:
    user = current_user()
    body = json_body()
    url = field(body, "url", str)
    problem = check_url(url)
    if problem:
        abort(422, "invalid", f"url: {problem}", field="url")
    row = ContactMethod(user_id=user.id, label=field(body, "label", str, required=False, default="")[:100], url=url,
                        created_at=rt().clock.now())
    db().add(row)
    db().commit()
    return jsonify(serialize.contact_method(row)), 201


@bp.delete("/api/v1/me/contact-methods/<int:method_id>")
def delete_contact_method(method_id: int) -> tuple[str, int]:
    user = current_user()
    row = db().get(ContactMethod, method_id)
    if row is None or row.user_id != user.id:
        abort(404, "not_found", f"you have no contact method {method_id}")
    db().delete(row)
    db().commit()
    return "", 204
