"""Signed, expiring one-click links that approve a proposed containment action ("lock down
for 2 h") from an alert, or undo one the playbook applied by itself, without logging in.

As with acknowledge links (crisis.web.acklinks), GET only shows what would happen: link
previews and mail scanners fetch every URL. The POST from that page approves, recorded
under the person the alert was sent to, and only if their role in the community still
allows it."""
from __future__ import annotations

from flask import Blueprint, Response

from crisis.containment import service
from crisis.models import ContainmentAction, Incident, Role, User
from crisis.notify.ack_tokens import read_action_token
from crisis.tenancy.communities import role_in
from crisis.web.acklinks import Unusable, page, read_or_refuse
from crisis.webctx import db, rt

bp = Blueprint("containlinks", __name__)


def _load(token: str) -> tuple[ContainmentAction, Incident, User, Role, str]:
    data = read_or_refuse(read_action_token, token)
    session = db()
    action = session.get(ContainmentAction, data["a"])
    incident = session.get(Incident, action.incident_id) if action is not None else None
    user = session.get(User, data["u"])
    if action is None or incident is None or user is None:
        raise Unusable(page(404, "Not found", "This action or its incident no longer exists."))
    role = role_in(session, user.id, incident.community_id)
    if role is None:
        raise Unusable(page(403, "Not allowed", "You are no longer staff of this community."))
    return action, incident, user, role, str(data["v"])


@bp.get("/contain/<token>")
def confirm(token: str) -> tuple[Response, int]:
    try:
        action, incident, user, role, verb = _load(token)
    except Unusable as unusable:
        return unusable.page
    who = user.display_name or user.email
    if verb == "undo":
        if action.status not in ("approved", "applying", "applied") or action.reverted_by:
            return page(200, "Nothing to do", f"This action is already {action.status}"
                        + (" and being undone" if action.reverted_by else "") + ".", incident=incident)
        return page(200, f"Undo: {service.describe(action)}?", "crisis will put back what the platform held "
                    "before, now.", incident=incident, button=f"Undo as {who}")
    if action.status != "proposed":
        return page(200, "Nothing to do", f"This action is already {action.status}.", incident=incident)
    if not role.at_least(Role(action.approve_role)):
        return page(403, "Not allowed", f"Approving this needs the {action.approve_role} role; you are {role.value}.",
                    incident=incident)
    hours = f"{(action.expires_after_s or 0) / 3600:g}"
    return page(200, f"{service.describe(action)}?", f"crisis will carry this out on the platform now and undo it "
                f"by itself after {hours} h. You can undo it sooner from the incident page.", incident=incident,
                button=f"Approve as {who}")


@bp.post("/contain/<token>")
def approve(token: str) -> tuple[Response, int]:
    try:
        action, incident, user, role, verb = _load(token)
    except Unusable as unusable:
        return unusable.page
    label = user.display_name or user.email
    try:
        if verb == "undo":
            if not role.at_least(Role(action.approve_role)):
                raise service.NotAllowed(f"undoing this needs the {action.approve_role} role; you are {role.value}")
            if action.status == "applying" or action.reverted_by:
                raise service.ContainmentError("status: not now")
            service.undo(db(), action, actor=label, actor_user_id=user.id, now=rt().clock.now(),
                         via="the link in an alert")
            db().commit()
            return page(200, "Undone", f"Thank you, {label}: {service.describe(action)} is being undone.",
                        incident=incident)
        service.approve(db(), action, actor=label, actor_user_id=user.id, role=role, now=rt().clock.now(),
                        via="the link in an alert")
    except service.NotAllowed as exc:
        db().rollback()
        return page(403, "Not allowed", str(exc), incident=incident)
    except service.ContainmentError:
        db().rollback()
        db().refresh(action)
        return page(409, "Nothing to do", f"This action is already {action.status}.", incident=incident)
    db().commit()
    return page(200, "Approved", f"Thank you, {label}: {service.describe(action)} is being carried out.",
                incident=incident)
