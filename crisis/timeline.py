"""The incident timeline: one function every part of the response writes through.

Low in the tree on purpose: signals, the lifecycle, escalation, steps, postmortems and
delivery all append here, and none of them needs to import another to do so.

A line the service writes may be a `Said`: a message template marked for translation and
its values. The English rendering is stored as `message` (the API, exports, postmortems and
erasure read it), and the template with its values in `data["said"]`, so each page renders
the line in its reader's language (crisis.web.i18n.timeline_text)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crisis.models import Incident, TimelineEntry


def N_(template: str) -> str:  # noqa: N802 -- gettext's name for "mark for extraction, translate later"
    """Mark a template for the catalogue (pybabel's default keywords include N_)."""
    return template


# Vocabulary a Said's `words` may hold, listed once so the catalogue has them: notification
# events, how a person acted (Actor.via), playbook roles. Statuses are in the catalogue already.
WORDS = (N_("opened"), N_("escalated"), N_("reopened"), N_("severity_raised"), N_("task_overdue"),
         N_("status_update"), N_("unreached"), N_("case_overdue"), N_("member_update_due"), N_("postmortem_review"),
         N_("public_update"), N_("test"), N_("link"), N_("web"), N_("alert"), N_("system"), N_("commander"),
         N_("responder"), N_("liaison"))
# The parts of crisis that write lines in their own name (the `actor` of a line no person wrote).
SYSTEM_ACTORS = (N_("detector"), N_("playbook"), N_("escalation"), N_("notifier"), N_("tasks"), N_("postmortems"))


@dataclass(frozen=True)
class Said:
    template: str  # %(name)s placeholders, English
    values: dict[str, Any]
    # Values that are themselves vocabulary (a status such as "acknowledged") and are
    # translated too; the rest (names, titles, errors from a platform) are shown as they are.
    words: tuple[str, ...] = field(default=())

    def english(self) -> str:
        return self.template % {k: v.english() if isinstance(v, Said) else v for k, v in self.values.items()}

    def as_data(self) -> dict[str, Any]:
        """JSON for data["said"]; a value that is itself a Said (a reason with its own
        values) is kept as a template of its own, rendered inside the outer one."""
        return {"t": self.template, "v": {k: v.as_data() if isinstance(v, Said) else v for k, v in self.values.items()},
                "w": list(self.words)}


def said(template: str, *, words: tuple[str, ...] = (), **values: Any) -> Said:
    return Said(template, values, words)


def joined(parts: list[Said | str], sep: str = ", ") -> Said:
    """Parts rendered one after another (each in the reader's language), `sep` between them."""
    return Said(sep.join(f"%(p{i})s" for i in range(len(parts))), {f"p{i}": part for i, part in enumerate(parts)})


def add_timeline(session: Session, incident: Incident, kind: str, message: str | Said, *, at: datetime,
                 actor: str = "", actor_user_id: int | None = None,
                 data: dict[str, Any] | None = None) -> TimelineEntry:
    data = dict(data or {})
    if isinstance(message, Said):
        data["said"] = message.as_data()
        message = message.english()
    entry = TimelineEntry(incident_id=incident.id, at=at, kind=kind, actor=actor,
                          actor_user_id=actor_user_id, message=message, data=data)
    session.add(entry)
    return entry
