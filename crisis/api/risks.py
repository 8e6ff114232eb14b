"""/api/v1/communities/<slug>/risks: the risk register, its heat map, and each risk's history.

Staff read it (moderator or above); changing it takes a manager, or a responder acting from
a postmortem of the community (postmortem_id), which the change log then names."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from crisis.api.errors import abort
from crisis.api.serialize import person, ts
from crisis.api.staff import community_by_slug, current_user, field, json_body, require
from crisis.models import Community, Membership, Risk, RiskChange, Role, User
from crisis.models.postmortem import Postmortem
from crisis.response import postmortems
from crisis.risks import heatmap, history, register
from crisis.webctx import db, rt

bp = Blueprint("api_risks", __name__)
TEXT_FIELDS = {"title": str, "description": str}
LIST_FIELDS = ("detectors", "playbooks")


def risk_json(risk: Risk, *, flags: list[str]) -> dict[str, Any]:
    value = heatmap.score(risk.likelihood, risk.impact)
    return {"id": risk.id, "title": risk.title, "description": risk.description, "likelihood": risk.likelihood,
            "impact": risk.impact, "score": value, "level": heatmap.level(value),
            "owner": person(db(), risk.owner_id), "detectors": list(risk.detectors), "playbooks": list(risk.playbooks),
            "review_at": ts(risk.review_at), "reviewed_at": ts(risk.reviewed_at), "status": risk.status,
            "flags": flags, "created_at": ts(risk.created_at), "updated_at": ts(risk.updated_at)}


def _flags(risk: Risk) -> list[str]:
    staff, names = register.flag_context(db(), risk.community_id)
    return register.flags(risk, now=rt().clock.now(), staff_ids=staff, playbook_names=names)


def _change_json(row: RiskChange) -> dict[str, Any]:
    return {"id": row.id, "at": ts(row.at), "kind": row.kind, "actor": row.actor, "changes": row.changes,
            "note": row.note, "postmortem_id": row.postmortem_id, "incident_id": row.incident_id}


def _history_json(risk: Risk) -> dict[str, Any]:
    found = history.history(db(), risk)
    return {
        "incidents": [{"id": m.incident.id, "title": m.incident.title, "kind": m.incident.kind,
                       "severity": m.incident.severity, "status": m.incident.status,
                       "opened_at": ts(m.incident.opened_at), "resolved_at": ts(m.incident.resolved_at),
                       "why": list(m.why), "time_to_detect": m.times.time_to_detect,
                       "time_to_resolve": m.times.time_to_resolve,
                       "postmortem": {"id": m.postmortem.id, "status": m.postmortem.status} if m.postmortem else None}
                      for m in found.incidents],
        "median_time_to_detect": found.median_detect, "median_time_to_resolve": found.median_resolve,
        "action_items": [{"id": item.id, "title": item.title, "status": item.status,
                          "owner": person(db(), item.owner_id), "due_at": ts(item.due_at), "incident_id": incident.id}
                         for item, incident in found.action_items],
    }


def _risk(community: Community, risk_id: int) -> Risk:
    row = db().get(Risk, risk_id)
    if row is None or row.community_id != community.id:
        abort(404, "not_found", f"community {community.slug} has no risk {risk_id}")
    return row


def _date(raw: object, name: str) -> datetime:
    if not isinstance(raw, str):
        abort(422, "invalid", f"{name}: must be a date YYYY-MM-DD", field=name)
    try:
        day = postmortems.parse_due(raw[:10]) if len(raw) >= 10 else None
    except postmortems.PostmortemError:
        day = None
    if day is None:
        abort(422, "invalid", f"{name}: {raw[:40]!r} must be a date YYYY-MM-DD", field=name)
    return day


def _owner(community: Community, raw: object) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        abort(422, "invalid", "owner: must be a staff member's email or null", field="owner")
    user_id = db().scalar(select(User.id).join(Membership, Membership.user_id == User.id)
                          .where(User.email == raw.strip().lower(), Membership.community_id == community.id))
    if user_id is None:
        abort(422, "invalid", f"owner: {raw[:100]!r} is not staff of this community", field="owner")
    return int(user_id)


def _values(community: Community, body: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, kind in TEXT_FIELDS.items():
        if name in body:
            values[name] = field(body, name, kind)
    for name in ("likelihood", "impact"):
        if name in body:
            values[name] = body[name]  # the register says what is wrong with a bad score
    for name in LIST_FIELDS:
        if name in body:
            values[name] = field(body, name, list)
    if "owner" in body:
        values["owner_id"] = _owner(community, body["owner"])
    if body.get("review_at") is not None:
        values["review_at"] = _date(body["review_at"], "review_at")
    return values


def _postmortem(community: Community, body: dict[str, Any]) -> Postmortem | None:
    raw = body.get("postmortem_id")
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool):
        abort(422, "invalid", "postmortem_id: must be an integer", field="postmortem_id")
    pm = db().get(Postmortem, raw)
    if pm is None or pm.community_id != community.id:
        abort(422, "invalid", f"postmortem_id: no postmortem {raw} in this community", field="postmortem_id")
    return pm


def _writer(community: Community, pm: Postmortem | None, what: str) -> register.Actor:
    """A manager, or a responder acting from a postmortem."""
    role = require(community.id, Role.MODERATOR, what, not_found=f"no community {community.slug!r}")
    if pm is None and not role.at_least(Role.MANAGER):
        abort(403, "forbidden", f"{what} needs the manager role or above; you are {role.value} (a responder may "
                                "add or re-score a risk from a postmortem: send postmortem_id)")
    if not role.at_least(Role.RESPONDER):
        abort(403, "forbidden", f"{what} from a postmortem needs the responder role or above; you are {role.value}")
    user = current_user()
    return register.Actor(user.id, user.display_name or user.email)


def _refused(exc: register.RiskError) -> None:
    db().rollback()
    abort(422, "invalid", str(exc), **({"field": exc.field} if exc.field else {}))


@bp.get("/api/v1/communities/<slug>/risks")
def list_risks(slug: str) -> Response:
    community = community_by_slug(slug)
    retired = request.args.get("include_retired", "") in ("1", "true")
    rows = register.of(db(), community.id, include_retired=retired)
    staff, names = register.flag_context(db(), community.id)
    now = rt().clock.now()
    active = [r for r in rows if r.status == "active"]
    return jsonify({"risks": [risk_json(r, flags=register.flags(r, now=now, staff_ids=staff, playbook_names=names))
                              for r in rows],
                    "heatmap": heatmap.counts(active),
                    "levels": {name: upper for name, upper in heatmap.LEVELS},
                    "detector_kinds": register.detector_kinds(db(), community.id)})


@bp.post("/api/v1/communities/<slug>/risks")
def create_risk(slug: str) -> tuple[Response, int]:
    community = community_by_slug(slug)
    body = json_body()
    pm = _postmortem(community, body)
    actor = _writer(community, pm, "adding a risk")
    try:
        risk = register.create(db(), community, _values(community, body), actor=actor, now=rt().clock.now(),
                               postmortem=pm, note=field(body, "note", str, required=False, default=""))
    except register.RiskError as exc:
        _refused(exc)
    db().commit()
    return jsonify(risk_json(risk, flags=_flags(risk))), 201


@bp.get("/api/v1/communities/<slug>/risks/<int:risk_id>")
def get_risk(slug: str, risk_id: int) -> Response:
    community = community_by_slug(slug)
    risk = _risk(community, risk_id)
    return jsonify({**risk_json(risk, flags=_flags(risk)), "history": _history_json(risk),
                    "changes": [_change_json(c) for c in register.changes_of(db(), risk.id)]})


@bp.patch("/api/v1/communities/<slug>/risks/<int:risk_id>")
def update_risk(slug: str, risk_id: int) -> Response:
    community = community_by_slug(slug)
    risk = _risk(community, risk_id)
    body = json_body()
    pm = _postmortem(community, body)
    actor = _writer(community, pm, "changing a risk")
    status = field(body, "status", str, required=False)
    note = field(body, "note", str, required=False, default="")
    try:
        register.update(db(), risk, _values(community, body), actor=actor, now=rt().clock.now(), postmortem=pm,
                        note=note)
        if status is not None and status != risk.status:
            register.set_status(db(), risk, status, actor=actor, now=rt().clock.now())
    except register.RiskError as exc:
        _refused(exc)
    db().commit()
    return jsonify(risk_json(risk, flags=_flags(risk)))


@bp.post("/api/v1/communities/<slug>/risks/<int:risk_id>/review")
def review_risk(slug: str, risk_id: int) -> Response:
    """The owner (or a manager) looked at the risk; it is current until next_review_at."""
    community = community_by_slug(slug)
    risk = _risk(community, risk_id)
    user = current_user()
    if user.id != risk.owner_id:
        require(community.id, Role.MANAGER, "reviewing a risk you do not own", not_found=f"no community {slug!r}")
    body = json_body()
    try:
        register.mark_reviewed(db(), risk, next_review_at=_date(field(body, "next_review_at", str), "next_review_at"),
                               actor=register.Actor(user.id, user.display_name or user.email), now=rt().clock.now(),
                               note=field(body, "note", str, required=False, default=""))
    except register.RiskError as exc:
        _refused(exc)
    db().commit()
    return jsonify(risk_json(risk, flags=_flags(risk)))
