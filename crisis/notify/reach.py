"""Would anyone be paged? For each stored playbook, whether a community's escalation under
it resolves, right now, to at least one destination, and why not when it does not.

The same resolution the engine runs when an incident opens (crisis.response.steps.fill_roles,
crisis.notify.recipients.resolve), run on an incident that does not exist: its playbook
roles are filled the way they would be, and each escalation level is resolved in turn.
`crisis playbooks sync`, the settings page and the on-call page show the gaps."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.models import Community, Incident
from crisis.notify import recipients


@dataclass(frozen=True)
class Gap:
    playbook: str
    version: int
    severities: list[str]
    kinds: list[str]
    reasons: list[str]  # one per level: "level 1: nobody is on call in schedule 'primary'"

    @property
    def summary(self) -> str:
        kinds = "any kind" if "*" in self.kinds else ", ".join(self.kinds)
        return (f"{', '.join(self.severities)} incidents ({kinds}) under playbook {self.playbook} v{self.version} "
                f"would page nobody: " + "; ".join(self.reasons))


def _roles(session: Session, probe: Incident, spec: dict[str, Any], now: datetime) -> dict[str, int]:
    filled: dict[str, int] = {}
    for role, body in spec.get("roles", {}).items():
        for target in body.get("filled_by", []):
            (kind, value), = target.items()
            users, _why = recipients.users_for(session, probe, kind, value, now)
            if users:
                filled[role] = users[0]
                break
    return filled


def unreached_levels(session: Session, community: Community, spec: dict[str, Any], now: datetime) -> list[str]:
    """Why each level would reach nobody; [] as soon as one level reaches someone."""
    # Never added to the session: a stand-in carrying the community for the resolvers.
    probe = Incident(community_id=community.id, kind="", title="", severity="sev1", status="triggered")
    roles = _roles(session, probe, spec, now)
    levels = spec.get("escalation", {}).get("levels", [])
    if not levels:
        return ["the playbook has no escalation levels"]
    reasons = []
    for number, level in enumerate(levels, start=1):
        found, why = recipients.resolve(session, probe, level["notify"], now, roles)
        if found:
            return []
        reasons.append(f"level {number}: " + "; ".join(dict.fromkeys(why or ["no targets"])))
    return reasons


def gaps(session: Session, community: Community, now: datetime) -> list[Gap]:
    out = []
    for name in playbooks.names(session):
        row = playbooks.latest(session, name)
        if row is None:
            continue
        reasons = unreached_levels(session, community, row.spec, now)
        if reasons:
            applies = row.spec.get("applies_to", {})
            out.append(Gap(row.name, row.version, list(applies.get("severities", [])),
                           list(applies.get("kinds", [])), reasons))
    return out
