"""Cases and the review queue: list and read cases (with their public link), file one as
staff, triage, decide one or a whole queue item (with a rule's penalty), and an incident's
cases. Views parse, call crisis.cases.service, commit, serialize."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from crisis.api import moderation_serialize as out
from crisis.api.errors import abort
from crisis.api.staff import community_by_slug, community_row, current_user, field, json_body, require, unprocessable
from crisis.cases import links, review, service
from crisis.cases.states import CaseStatus
from crisis.models import Case, Community, Incident, Membership, Role, User
from crisis.moderation.penalties import By
from crisis.webctx import db, rt

bp = Blueprint("api_cases", __name__)
STATUSES = tuple(s.value for s in CaseStatus)
MAX_LIMIT = 500


def _by(community_id: int, what: str, noun: str) -> By:
    user = current_user()
    return By(user.display_name or user.email, user.id, require(community_id, Role.MODERATOR, what, not_found=noun))


def _json(row: Case, with_events: bool = False) -> dict[str, Any]:
    community = db().get(Community, row.community_id)
    assert community is not None
    return out.case(db(), rt().config, community, row, service.events(db(), row.id) if with_events else None)


def _refused(exc: Exception) -> None:
    db().rollback()
    if str(exc).startswith("status:"):
        abort(409, "invalid_transition", str(exc))
    unprocessable(str(exc))


@bp.get("/api/v1/communities/<slug>/cases")
def list_cases(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading cases")
    query = select(Case).where(Case.community_id == community.id)
    status = request.args.get("status")
    if status == "open":
        query = query.where(Case.status.in_(("new", "triaged")))
    elif status:
        if status not in STATUSES:
            abort(400, "bad_query", f"status: {status!r} is not open or one of {', '.join(STATUSES)}")
        query = query.where(Case.status == status)
    if request.args.get("subject"):
        query = query.where(Case.subject_key == request.args["subject"])
    if request.args.get("source_event_id"):
        query = query.where(Case.source_event_id == request.args["source_event_id"])
    try:
        limit = min(int(request.args.get("limit", 100)), MAX_LIMIT)
    except ValueError:
        abort(400, "bad_query", f"limit: {request.args['limit']!r} is not an integer")
    return jsonify({"cases": [_json(c) for c in db().scalars(query.order_by(Case.id.desc()).limit(limit))]})


@bp.post("/api/v1/communities/<slug>/cases")
def file_case(slug: str) -> tuple[Response, int]:
    current_user()
    body = json_body()
    community = community_by_slug(slug, Role.MODERATOR, "filing a case")
    subject = field(body, "subject", dict, required=False, default={})
    user = current_user()
    try:
        complaint = service.check(db(), community, service.Complaint(
            subject_kind=field(subject, "kind", str), category=field(body, "category", str),
            details=field(body, "details", str, required=False, default=""),
            subject_member=field(subject, "member", str, required=False, default=""),
            subject_message_id=field(subject, "message_id", str, required=False, default=""),
            subject_link=field(subject, "link", str, required=False, default=""),
            rule_id=field(body, "rule", str, required=False, default=""),
            reporter_name=user.display_name or user.email, source="staff"))
        row = service.open_case(db(), community, complaint, now=rt().clock.now(), actor=user.display_name or user.email)
    except service.CaseError as exc:
        _refused(exc)
    db().commit()
    return jsonify(_json(row, True)), 201


@bp.get("/api/v1/cases/<int:case_id>")
def get_case(case_id: int) -> Response:
    return jsonify(_json(community_row(Case, case_id, "case", Role.MODERATOR, "this"), True))


@bp.post("/api/v1/cases/<int:case_id>/triage")
def triage(case_id: int) -> Response:
    row = community_row(Case, case_id, "case", Role.MODERATOR, "triaging a case")
    body = json_body()
    by = _by(row.community_id, "triaging a case", f"no case {case_id}")
    owner = field(body, "owner", str, required=False, default=None)
    owner_id = None
    if owner is not None:
        owner_id = db().scalar(select(User.id).join(Membership, Membership.user_id == User.id).where(
            User.email == owner.strip().lower(), Membership.community_id == row.community_id))
        if owner_id is None:
            abort(422, "invalid", f"owner: {owner!r} is not staff of this case's community", field="owner")
    try:
        service.triage(db(), row, by=by, now=rt().clock.now(), owner_id=owner_id,
                       note=field(body, "note", str, required=False, default=""))
    except service.CaseError as exc:
        _refused(exc)
    db().commit()
    return jsonify(_json(row, True))


@bp.post("/api/v1/cases/<int:case_id>/decide")
def decide_one(case_id: int) -> Response:
    row = community_row(Case, case_id, "case", Role.MODERATOR, "deciding a case")
    body = json_body()
    by = _by(row.community_id, "deciding a case", f"no case {case_id}")
    community = db().get(Community, row.community_id)
    assert community is not None
    try:
        service.decide_with_rule(db(), community, [row], field(body, "decision", str), by=by, now=rt().clock.now(),
                                 outcome=field(body, "outcome", str, required=False, default=""),
                                 rule_id=field(body, "rule", str, required=False, default=""),
                                 member=field(body, "member", str, required=False, default=""))
    except service.CaseError as exc:
        _refused(exc)
    db().commit()
    return jsonify(_json(row, True))


@bp.get("/api/v1/communities/<slug>/queue")
def queue(slug: str) -> Response:
    community = community_by_slug(slug, Role.MODERATOR, "reading the review queue")
    return jsonify({"items": [out.item(i) for i in review.items(db(), community.id, rt().clock.now())]})


@bp.post("/api/v1/communities/<slug>/queue/decide")
def decide_item(slug: str) -> Response:
    current_user()
    body = json_body()
    community = community_by_slug(slug, Role.MODERATOR, "deciding cases")
    by = _by(community.id, "deciding cases", f"no community {slug!r}")
    try:
        cases, penalty = service.decide_item(
            db(), community, field(body, "subject", str), field(body, "decision", str), by=by, now=rt().clock.now(),
            outcome=field(body, "outcome", str, required=False, default=""),
            rule_id=field(body, "rule", str, required=False, default=""),
            member=field(body, "member", str, required=False, default=""))
    except service.CaseError as exc:
        _refused(exc)
    db().commit()
    return jsonify({"cases": [_json(c) for c in cases], "penalty": penalty.id if penalty else None})


@bp.get("/api/v1/incidents/<int:incident_id>/cases")
def incident_cases(incident_id: int) -> Response:
    incident = community_row(Incident, incident_id, "incident", Role.MODERATOR, "this")
    top = links.most_reported(incident)
    return jsonify({"cases": [{**_json(c), "about_top_target": links.about_top_target(c, top)}
                              for c in links.for_incident(db(), incident.id)]})
