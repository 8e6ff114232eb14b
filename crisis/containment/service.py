"""What people and playbooks do with containment actions: propose (with a preview of the
targets), approve, cancel, undo, release one account. Each takes the caller's session and
writes the action's move, its timeline entry and the job's doorbell in that transaction;
nothing here calls a platform (crisis.containment.runner does, from the committed row)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit import log as audit_log
from crisis.containment import kinds
from crisis.containment.kinds import DEFAULT_TARGETS, MAX_TARGETS, Kind
from crisis.containment.states import ACTION, IN_FORCE, OPEN, ActionStatus
from crisis.jobs import ringer
from crisis.models import Community, ContainmentAction, ContainmentMove, Incident, PlatformLink, Role
from crisis.playbooks import parse_duration
from crisis.statemachine import InvalidTransition
from crisis.tenancy import community_settings
from crisis.timeline import N_, Said, add_timeline, said

A = ActionStatus


class ContainmentError(ValueError):
    """Bad input for an action; the message names the field."""


class NotAllowed(PermissionError):
    """The actor's role is below what the action's kind needs."""


def move(session: Session, action: ContainmentAction, new: ActionStatus, *, actor: str, now: datetime,
         actor_user_id: int | None = None, note: str = "") -> None:
    """The one place an action's status changes outside a claim: checked, recorded, on the timeline."""
    old = action.status
    action.status = ACTION.move(old, new).value
    action.updated_at = now
    session.add(ContainmentMove(action_id=action.id, from_status=old, to_status=new.value, actor=actor[:200],
                                actor_user_id=actor_user_id, note=note, at=now))


def record(session: Session, action: ContainmentAction, old: str, *, actor: str, now: datetime,
           note: str = "", actor_user_id: int | None = None) -> None:
    """A move already made by a claim (a conditional UPDATE), written to the log."""
    session.add(ContainmentMove(action_id=action.id, from_status=old, to_status=action.status, actor=actor[:200],
                                actor_user_id=actor_user_id, note=note, at=now))


def _audit(session: Session, action: ContainmentAction, verb: str, *, actor: str, actor_user_id: int | None,
           now: datetime, before: str, via: str = "") -> None:
    # The accounts stay out of the audit row (counts only): they are members' data, kept
    # with the action itself, where erasing a member can reach them.
    audit_log.record(
        session, community_id=action.community_id, actor=actor, actor_user_id=actor_user_id,
        action=f"containment.{verb}", target=f"incident {action.incident_id} action {action.id} ({action.kind})",
        before={"status": before}, after={"status": action.status, "accounts": len(action.targets or []),
                                          "rooms": len(action.rooms or []), "via": via}, at=now)


def timeline_note(session: Session, action: ContainmentAction, message: str | Said, *, at: datetime, actor: str,
         actor_user_id: int | None = None, data: dict[str, Any] | None = None) -> None:
    """An incident's action goes on its timeline; a penalty's has no timeline (its moves are
    its record, shown on the member's page)."""
    incident = session.get(Incident, action.incident_id) if action.incident_id is not None else None
    if incident is not None:
        add_timeline(session, incident, "containment", message, at=at, actor=actor, actor_user_id=actor_user_id,
                     data=data)


def describe(action: ContainmentAction) -> str:
    return spoken(action).english()


def spoken(action: ContainmentAction) -> Said:
    """What the action does, as a timeline template ("Ban accounts: 7 accounts")."""
    kind = kinds.get(action.kind)
    count = len(action.targets) if kind.aims_at == "accounts" else len(action.rooms)
    if kind.aims_at == "accounts":
        template = N_("%(kind)s%(extra)s: %(count)s account") if count == 1 \
            else N_("%(kind)s%(extra)s: %(count)s accounts")
    else:
        template = N_("%(kind)s%(extra)s: %(count)s room") if count == 1 else N_("%(kind)s%(extra)s: %(count)s rooms")
    extra = f" ({action.params['join_rule']})" if action.kind == "lockdown" else ""
    return said(template, words=("kind",), kind=kind.label, extra=extra, count=count)


def _via(via: str) -> Said | str:
    return said(N_(" via %(via)s"), words=("via",), via=via) if via else ""


def _link(session: Session, community_id: int) -> PlatformLink | None:
    return session.scalar(select(PlatformLink).where(PlatformLink.community_id == community_id,
                                                     PlatformLink.disabled.is_(False)).order_by(PlatformLink.id))


def executor_for(session: Session, community_id: int) -> str:
    """Who would carry out an action in this community now: its bridge's platform, or "manual"."""
    link = _link(session, community_id)
    return "manual" if link is None else link.platform


def _rooms(link: PlatformLink | None, evidence: dict[str, Any]) -> list[str]:
    """The linked rooms the incident is about: its channel's, or every room of the link."""
    if link is None:
        return []
    channel = evidence.get("channel")
    chosen = [room for room, name in (link.rooms or {}).items() if channel and name == channel]
    return chosen or sorted(link.rooms or {})


def _params(kind: Kind, raw: dict[str, Any] | None) -> dict[str, Any]:
    params = kind.param_defaults()
    for key, value in (raw or {}).items():
        if key not in kind.params:
            known = ", ".join(kind.params) or "none"
            raise ContainmentError(f"params.{key}: {kind.name} takes no such parameter (known: {known})")
        if value not in kind.params[key]:
            raise ContainmentError(f"params.{key}: {value!r} is not one of {', '.join(map(str, kind.params[key]))}")
        params[key] = value
    return params


def preview(session: Session, incident: Incident, kind_name: str, *, accounts: list[str] | None = None,
            limit: int = DEFAULT_TARGETS) -> dict[str, Any]:
    return _preview(session, incident, kind_name, accounts=accounts, limit=limit)[0]


def _choose(community: Community, link: PlatformLink | None, named: list[str],
            limit: int) -> tuple[list[str], list[dict[str, str]]]:
    """The accounts an action may touch, in order, and those left out with why."""
    if not all(isinstance(a, str) and 0 < len(a) <= 255 for a in named):
        raise ContainmentError("accounts: must be a list of account ids (1 to 255 characters)")
    chosen: list[str] = []
    excluded: list[dict[str, str]] = []
    allow = set(community_settings.current(community).get("allow_users") or [])
    for account in dict.fromkeys(named):
        if account in allow:
            excluded.append({"account": account, "why": "on the community's allowlist"})
        elif link is not None and account == link.sender:
            excluded.append({"account": account, "why": "the bridge's own user"})
        elif len(chosen) >= limit:
            excluded.append({"account": account, "why": f"over the cap of {limit} per action"})
        else:
            chosen.append(account)
    return chosen, excluded


def _seen(kind: Kind, link: PlatformLink | None, rooms: list[str], chosen: list[str],
          excluded: list[dict[str, str]]) -> dict[str, Any]:
    return {"kind": kind.name, "label": kind.label, "executor": "manual" if link is None else link.platform,
            "rooms": rooms, "accounts": chosen, "excluded": excluded,
            "reversible": kind.reversible, "confirm": kind.confirm, "approve_role": kind.approve_role.value,
            "default_expiry_s": int(kind.default_expiry.total_seconds()) if kind.default_expiry else None}


def _preview(session: Session, incident: Incident, kind_name: str, *, accounts: list[str] | None,
             limit: int) -> tuple[dict[str, Any], PlatformLink | None]:
    """What an action would touch: accounts from the evidence unless named, capped, and the
    accounts left out (allowlisted bots and members; staff are left out again when applied,
    from the room's own power levels)."""
    kind = _kind(kind_name)
    if not 1 <= limit <= MAX_TARGETS:
        raise ContainmentError(f"limit: must be 1 to {MAX_TARGETS}")
    community = session.get(Community, incident.community_id)
    assert community is not None
    link = _link(session, incident.community_id)
    chosen: list[str] = []
    excluded: list[dict[str, str]] = []
    if kind.aims_at == "accounts":
        named = accounts if accounts is not None else [str(a) for a in incident.evidence.get("accounts") or []]
        chosen, excluded = _choose(community, link, named, limit)
    return _seen(kind, link, _rooms(link, incident.evidence), chosen, excluded), link


def _kind(name: str) -> Kind:
    try:
        return kinds.get(name)
    except KeyError as exc:
        raise ContainmentError(f"kind: {exc.args[0]}") from None


def propose(session: Session, incident: Incident, kind_name: str, *, actor: str, now: datetime,
            actor_user_id: int | None = None, params: dict[str, Any] | None = None,
            accounts: list[str] | None = None, expires_after: timedelta | None = None, step_id: str = "",
            approve_role: Role | None = None, limit: int = DEFAULT_TARGETS) -> ContainmentAction:
    kind = _kind(kind_name)
    # A playbook may ask for a higher role than the kind's own, never a lower one.
    needed = approve_role if approve_role is not None and approve_role.at_least(kind.approve_role) \
        else kind.approve_role
    checked = _params(kind, params)
    if expires_after is not None and not kind.reversible:
        raise ContainmentError(f"expires_after: {kind.name} cannot be undone, so it cannot expire")
    if expires_after is not None and not timedelta(minutes=1) <= expires_after <= timedelta(days=30):
        raise ContainmentError("expires_after: must be from 1 minute to 30 days")
    seen, link = _preview(session, incident, kind.name, accounts=accounts, limit=limit)
    if kind.aims_at == "accounts" and not seen["accounts"]:
        raise ContainmentError("accounts: nobody to act on (the evidence names no accounts, or all are excluded)")
    if link is not None and not seen["rooms"]:
        raise ContainmentError("rooms: the community's link has no rooms to act in")
    expiry = expires_after if expires_after is not None else kind.default_expiry
    action = ContainmentAction(
        incident_id=incident.id, community_id=incident.community_id, kind=kind.name, status=A.PROPOSED.value,
        executor="manual" if link is None else link.platform, link_id=link.id if link else None, step_id=step_id,
        approve_role=needed.value,
        params=checked, rooms=seen["rooms"], targets=[{"account": a, "state": "pending"} for a in seen["accounts"]],
        excluded=seen["excluded"], expires_after_s=int(expiry.total_seconds()) if expiry else None,
        attempts=0, last_error="", proposed_by=actor[:200], approved_by="", reverted_by="", created_at=now,
        updated_at=now)
    session.add(action)
    session.flush()
    session.add(ContainmentMove(action_id=action.id, from_status="", to_status=A.PROPOSED.value, actor=actor[:200],
                                actor_user_id=actor_user_id, note="", at=now))
    add_timeline(session, incident, "containment",
                 said(N_("%(actor)s proposed: %(what)s"), actor=actor, what=spoken(action)) if kind.reversible
                 else said(N_("%(actor)s proposed: %(what)s (cannot be undone)"), actor=actor, what=spoken(action)),
                 at=now, actor=actor,
                 actor_user_id=actor_user_id, data={"action_id": action.id, "kind": kind.name, "status": "proposed",
                                                    "excluded": len(seen["excluded"])})
    return action


def propose_for_member(session: Session, community: Community, kind_name: str, account: str, *, actor: str,
                       now: datetime, reason: str, actor_user_id: int | None = None,
                       expires_after: timedelta | None = None) -> ContainmentAction:
    """An action on one account outside any incident (a penalty under the community's rules,
    crisis.moderation.penalties): in every linked room, or by hand without a bridge."""
    kind = _kind(kind_name)
    if kind.aims_at != "accounts":
        raise ContainmentError(f"kind: {kind.name} acts on rooms, not on a member")
    if expires_after is not None and not kind.reversible:
        raise ContainmentError(f"expires_after: {kind.name} cannot be undone, so it cannot expire")
    link = _link(session, community.id)
    chosen, excluded = _choose(community, link, [account], 1)
    if not chosen:
        raise ContainmentError(f"accounts: {account} is left out ({excluded[0]['why']})")
    rooms = sorted(link.rooms or {}) if link is not None else []
    if link is not None and not rooms:
        raise ContainmentError("rooms: the community's link has no rooms to act in")
    action = ContainmentAction(
        incident_id=None, community_id=community.id, kind=kind.name, status=A.PROPOSED.value,
        executor="manual" if link is None else link.platform, link_id=link.id if link else None, step_id="",
        reason=reason[:250], approve_role=kind.approve_role.value, params=kind.param_defaults(), rooms=rooms,
        targets=[{"account": account, "state": "pending"}], excluded=excluded,
        expires_after_s=int(expires_after.total_seconds()) if expires_after else None, attempts=0, last_error="",
        proposed_by=actor[:200], approved_by="", reverted_by="", created_at=now, updated_at=now)
    session.add(action)
    session.flush()
    session.add(ContainmentMove(action_id=action.id, from_status="", to_status=A.PROPOSED.value, actor=actor[:200],
                                actor_user_id=actor_user_id, note=reason[:500], at=now))
    return action


def approve(session: Session, action: ContainmentAction, *, actor: str, role: Role | None, now: datetime,
            actor_user_id: int | None = None, confirm: bool = False, via: str = "") -> ContainmentAction:
    """`role` None means the playbook's own approval (`approval: auto`)."""
    kind = kinds.get(action.kind)
    needed = Role(action.approve_role)
    if role is not None and not role.at_least(needed):
        raise NotAllowed(f"approving {kind.name} needs the {needed.value} role or above; you are {role.value}")
    if kind.confirm and not confirm:
        raise ContainmentError(f"confirm: {kind.label.lower()} cannot be undone; approve with confirm=true")
    before = action.status
    try:
        move(session, action, A.APPROVED, actor=actor, actor_user_id=actor_user_id, now=now, note=via)
    except InvalidTransition as exc:
        raise ContainmentError(f"status: {exc}") from None
    _audit(session, action, "approve", actor=actor, actor_user_id=actor_user_id, now=now, before=before, via=via)
    action.approved_by, action.approved_by_id, action.approved_at = actor[:200], actor_user_id, now
    action.next_attempt_at = now
    timeline_note(session, action, said(N_("%(actor)s approved: %(what)s%(via)s"), actor=actor, what=spoken(action),
                                        via=_via(via)),
                  at=now, actor=actor, actor_user_id=actor_user_id,
                  data={"action_id": action.id, "kind": action.kind, "status": "approved", "via": via})
    ringer.note_containment(session, action.id)
    return action


def cancel(session: Session, action: ContainmentAction, *, actor: str, now: datetime,
           actor_user_id: int | None = None, note: str = "") -> ContainmentAction:
    before = action.status
    try:
        move(session, action, A.CANCELLED, actor=actor, actor_user_id=actor_user_id, now=now, note=note)
    except InvalidTransition as exc:
        raise ContainmentError(f"status: {exc}") from None
    _audit(session, action, "cancel", actor=actor, actor_user_id=actor_user_id, now=now, before=before, via=note)
    timeline_note(session, action, said(N_("%(actor)s cancelled: %(what)s (%(note)s)"), actor=actor,
                                        what=spoken(action), note=note) if note
                  else said(N_("%(actor)s cancelled: %(what)s"), actor=actor, what=spoken(action)),
                  at=now, actor=actor, actor_user_id=actor_user_id,
                  data={"action_id": action.id, "kind": action.kind, "status": "cancelled"})
    return action


def undo(session: Session, action: ContainmentAction, *, actor: str, now: datetime,
         actor_user_id: int | None = None, via: str = "") -> ContainmentAction:
    """Revert an applied action now (its expiry is brought forward to now, so the one path
    that carries out expiries also carries out undo); an action not yet applied is cancelled."""
    kind = kinds.get(action.kind)
    if action.status in (A.PROPOSED, A.APPROVED):
        return cancel(session, action, actor=actor, actor_user_id=actor_user_id, now=now, note="undone before it ran")
    if not kind.reversible:
        raise ContainmentError(f"status: {kind.label.lower()} cannot be undone")
    if action.status != A.APPLIED:
        raise ContainmentError(f"status: only an applied action can be undone; this one is {action.status}")
    if action.reverted_by:
        return action  # already asked: the job is on it
    action.expires_at, action.next_attempt_at, action.reverted_by = now, now, actor[:200]
    _audit(session, action, "undo", actor=actor, actor_user_id=actor_user_id, now=now, before=action.status, via=via)
    timeline_note(session, action, said(N_("%(actor)s asked to undo: %(what)s%(via)s"), actor=actor,
                                        what=spoken(action), via=_via(via)),
                  at=now, actor=actor, actor_user_id=actor_user_id,
                  data={"action_id": action.id, "kind": action.kind, "status": "undo_requested"})
    ringer.note_containment(session, action.id)
    return action


def release(session: Session, action: ContainmentAction, account: str, *, actor: str, now: datetime,
            actor_user_id: int | None = None) -> ContainmentAction:
    """Let one account caught by mistake go (unmute, unban, invite back): counted in the postmortem."""
    kind = kinds.get(action.kind)
    if not kind.releasable:
        raise ContainmentError(f"account: {kind.label.lower()} does not hold accounts that can be released")
    if action.status != A.APPLIED:
        raise ContainmentError(f"status: accounts can be released from an applied action; this one is "
                               f"{action.status}")
    targets = [dict(t) for t in action.targets]
    target = next((t for t in targets if t["account"] == account), None)
    if target is None:
        raise ContainmentError(f"account: {account!r} is not a target of this action")
    if target["state"] != "done":
        raise ContainmentError(f"account: {account!r} is {target['state']}, not held by this action")
    target.update(state="releasing", released_by=actor[:200])
    action.targets, action.next_attempt_at, action.updated_at = targets, now, now
    _audit(session, action, "release", actor=actor, actor_user_id=actor_user_id, now=now, before=action.status)
    timeline_note(session, action, said(N_("%(actor)s released %(account)s from: %(what)s"), actor=actor,
                                        account=account, what=spoken(action)), at=now,
                  actor=actor, actor_user_id=actor_user_id,
                  data={"action_id": action.id, "kind": action.kind, "account": account, "status": "releasing"})
    ringer.note_containment(session, action.id)
    return action


def for_incident(session: Session, incident_id: int) -> list[ContainmentAction]:
    return list(session.scalars(select(ContainmentAction).where(ContainmentAction.incident_id == incident_id)
                                .order_by(ContainmentAction.id)))


def in_force(session: Session, incident_id: int) -> list[ContainmentAction]:
    return [a for a in for_incident(session, incident_id)
            if a.status in IN_FORCE and kinds.get(a.kind).reversible and not a.reverted_by]


def undo_in_force(session: Session, incident: Incident, *, actor: str, actor_user_id: int | None,
                  now: datetime) -> list[int]:
    """Resolving with "also undo the containment still in force": undo each applied action."""
    undone = []
    for action in in_force(session, incident.id):
        if action.status == A.APPLIED:
            undo(session, action, actor=actor, actor_user_id=actor_user_id, now=now, via="resolving the incident")
            undone.append(action.id)
    return undone


def open_actions(session: Session, incident_id: int) -> list[ContainmentAction]:
    return [a for a in for_incident(session, incident_id) if a.status in OPEN]


# ---- playbook steps -------------------------------------------------------------------------
def _auto(approval: dict[str, Any], incident: Incident, score: float | None) -> bool:
    auto = approval.get("auto")
    if not auto:
        return False
    if "severities" in auto and incident.severity not in auto["severities"]:
        return False
    return not ("min_score" in auto and (score is None or score < auto["min_score"]))


def _refresh_targets(session: Session, incident: Incident, action: ContainmentAction, limit: int,
                     now: datetime) -> None:
    """A raid grows after its opening: a playbook's proposal still waiting for a person
    follows the evidence (the accounts named now), so the approver sees the whole cohort."""
    seen = preview(session, incident, action.kind, limit=limit)
    if not seen["accounts"] or [t["account"] for t in action.targets] == seen["accounts"]:
        return
    action.targets = [{"account": a, "state": "pending"} for a in seen["accounts"]]
    action.excluded, action.updated_at = seen["excluded"], now


def from_playbook(session: Session, incident: Incident, spec: dict[str, Any], *, now: datetime,
                  score: float | None = None) -> list[ContainmentAction]:
    """Propose each step's action (once per step), approving those whose `approval.auto`
    condition holds. Called when the incident opens and again when its severity rises, so
    a raid that grows into sev1 locks the room down then."""
    made = []
    existing = {a.step_id: a for a in for_incident(session, incident.id) if a.step_id}
    for step in spec.get("steps", []):
        body = step.get("action")
        if not body:
            continue
        approval = step.get("approval") or {}
        action = existing.get(step["id"])
        if action is None:
            expiry = parse_duration(step["expires_after"]) if step.get("expires_after") else None
            try:
                action = propose(session, incident, body["kind"], actor="playbook", now=now,
                                 params=body.get("params"), expires_after=expiry, step_id=step["id"],
                                 approve_role=Role(approval["role"]) if approval.get("role") else None,
                                 limit=body.get("max_targets", DEFAULT_TARGETS))
            except ContainmentError as exc:
                add_timeline(session, incident, "containment",
                             f"Playbook step {step['id']!r} proposed nothing: {exc}", at=now, actor="playbook",
                             data={"step": step["id"]})
                continue
            made.append(action)
        elif action.status == A.PROPOSED and kinds.get(action.kind).aims_at == "accounts":
            _refresh_targets(session, incident, action, body.get("max_targets", DEFAULT_TARGETS), now)
        if action.status == A.PROPOSED and _auto(approval, incident, score):
            why = f"the playbook approves it at {incident.severity}"
            approve(session, action, actor="playbook", role=None, now=now, via=why)
    return made

