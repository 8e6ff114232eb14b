"""Penalties, appeals and moderation tasks. A member's record is per platform account;
applying a penalty names the rule (its ladder picks the step); approval of the platform
action follows the containment kind's role; appeals are decided by a responder or above.
Views parse, call crisis.moderation, commit, serialize; the platform is called by jobs."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from crisis.api import moderation_serialize as out
from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, community_row, current_user, field, json_body, require, unprocessable
from crisis.models import Appeal, Community, ModerationTask, Penalty, Role
from crisis.moderation import appeals, penalties, tasks
from crisis.moderation.penalties import By, PenaltyError
from crisis.webctx import db, rt

bp = Blueprint("api_penalties", __name__)
DECIDE_APPEALS = Role.RESPONDER


def _by(community_id: int, minimum: Role, what: str, noun: str) -> By:
    user = current_user()
    role = require(community_id, minimum, what, not_found=noun)
    return By(user.display_name or user.email, user.id, role)


def _community(row: Penalty | Appeal | ModerationTask) -> Community:
    community = db().get(Community, row.community_id)
    assert community is not None
    return community


def _penalty_json(row: Penalty) -> dict[str, Any]:
    data = out.penalty(db(), rt().config, _community(row), row)
    data["appeals"] = [out.appeal(a) for a in appeals.for_penalty(db(), row.id)]
    return data


@bp.get("/api/v1/communities/<slug>/members/<path:member>/penalties")
def member_record(slug: str, member: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading a member's record")
    return jsonify({"member": member, "penalties": [_penalty_json(p) for p in
                                                    penalties.record(db(), community.id, member)]})


@bp.get("/api/v1/communities/<slug>/penalties/preview")
def preview(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "previewing a penalty")
    try:
        return jsonify(penalties.preview(db(), community, request.args.get("member", ""),
                                         request.args.get("rule", ""), now=rt().clock.now()))
    except PenaltyError as exc:
        abort(400, "bad_query", str(exc))


@bp.post("/api/v1/communities/<slug>/penalties")
def apply(slug: str) -> tuple[Response, int]:
    current_user()
    body = json_body()
    community = community_by_slug(slug, Role.MODERATOR, "applying a penalty")
    by = _by(community.id, Role.MODERATOR, "applying a penalty", f"no community {slug!r}")
    level = field(body, "level", int, required=False, default=None)
    try:
        row = penalties.apply(db(), community, field(body, "member", str), field(body, "rule", str), by=by,
                              now=rt().clock.now(), note=field(body, "note", str, required=False, default=""),
                              level=level)
    except PenaltyError as exc:
        db().rollback()
        unprocessable(str(exc))
    db().commit()
    db().refresh(row)
    return jsonify(_penalty_json(row)), 201


@bp.get("/api/v1/penalties/<int:penalty_id>")
def get_penalty(penalty_id: int) -> Response:
    return jsonify(_penalty_json(community_row(Penalty, penalty_id, "penalty", Role.MODERATOR, "this")))


@bp.post("/api/v1/penalties/<int:penalty_id>/approve")
def approve(penalty_id: int) -> Response:
    row = community_row(Penalty, penalty_id, "penalty", Role.MODERATOR, "approving a penalty's action")
    by = _by(row.community_id, Role.MODERATOR, "approving", f"no penalty {penalty_id}")
    try:
        penalties.approve_action(db(), row, by=by, now=rt().clock.now())
    except PenaltyError as exc:
        db().rollback()
        if str(exc).startswith("role:"):
            abort(403, "forbidden", str(exc))
        abort(409, "invalid_transition", str(exc))
    db().commit()
    return jsonify(_penalty_json(row))


@bp.post("/api/v1/penalties/<int:penalty_id>/appeals")
def file_appeal(penalty_id: int) -> tuple[Response, int]:
    row = community_row(Penalty, penalty_id, "penalty", Role.MODERATOR, "filing an appeal")
    user = current_user()
    try:
        appeal = appeals.file(db(), row, field(json_body(), "text", str), filed_by=user.display_name or user.email,
                              filed_by_id=user.id, now=rt().clock.now())
    except appeals.AppealError as exc:
        db().rollback()
        unprocessable(str(exc))
    db().commit()
    return jsonify(out.appeal(appeal)), 201


@bp.get("/api/v1/communities/<slug>/appeals")
def open_appeals(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading appeals")
    return jsonify({"appeals": [out.appeal(a) for a in appeals.open_in(db(), community.id)]})


@bp.post("/api/v1/appeals/<int:appeal_id>/decide")
def decide(appeal_id: int) -> Response:
    row = community_row(Appeal, appeal_id, "appeal", DECIDE_APPEALS, "deciding an appeal")
    body = json_body()
    by = _by(row.community_id, DECIDE_APPEALS, "deciding an appeal", f"no appeal {appeal_id}")
    try:
        appeals.decide(db(), row, field(body, "decision", str), note=field(body, "note", str), by=by,
                       now=rt().clock.now(), reduce_to=field(body, "reduce_to", int, required=False, default=None))
    except appeals.AppealError as exc:
        db().rollback()
        if str(exc).startswith("status:"):
            abort(409, "invalid_transition", str(exc))
        unprocessable(str(exc))
    db().commit()
    return jsonify(out.appeal(row))


@bp.get("/api/v1/communities/<slug>/moderation-tasks")
def open_tasks(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading moderation tasks")
    return jsonify({"tasks": [out.moderation_task(t) for t in tasks.open_in(db(), community.id)]})


@bp.post("/api/v1/moderation-tasks/<int:mtask_id>/done")
def task_done(mtask_id: int) -> Response:
    row = community_row(ModerationTask, mtask_id, "moderation task", Role.MODERATOR, "completing a task")
    try:
        tasks.mark_done(db(), row, user_id=current_user().id, now=rt().clock.now())
    except tasks.TaskError as exc:
        db().rollback()
        abort(409, "invalid_transition", str(exc))
    db().commit()
    return jsonify(out.moderation_task(row))
