"""Stored rulebook versions per community: sync from files, edits by staff, history.

Like playbooks (crisis.playbooks.store): a stored version never changes, and each
penalty pins (version, rule id), so an edit only affects penalties applied after it.
Files: rules/<community-slug>.yaml is that community's rulebook; rules/default.yaml is
what a community with neither a file nor a stored version starts with."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.clock import Clock
from crisis.config import ROOT
from crisis.models import Community, RulebookVersion
from crisis.moderation.rules import RulebookError, content_hash, load_text, validate
from crisis.versioned import SyncReport

RULES_DIR = ROOT / "rules"
DEFAULT = "default"


class VersionConflict(ValueError):
    """A changed rules file kept its version number, or went behind the stored versions."""


def latest(session: Session, community_id: int) -> RulebookVersion | None:
    return session.scalar(select(RulebookVersion).where(RulebookVersion.community_id == community_id)
                          .order_by(RulebookVersion.version.desc()).limit(1))


def get_version(session: Session, community_id: int, version: int) -> RulebookVersion | None:
    return session.scalar(select(RulebookVersion).where(RulebookVersion.community_id == community_id,
                                                        RulebookVersion.version == version))


def history(session: Session, community_id: int) -> list[RulebookVersion]:
    return list(session.scalars(select(RulebookVersion).where(RulebookVersion.community_id == community_id)
                                .order_by(RulebookVersion.version.desc())))


def _next_number(session: Session, community_id: int) -> int:
    top = session.scalar(select(func.max(RulebookVersion.version)).where(RulebookVersion.community_id == community_id))
    return (top or 0) + 1


def _audit(session: Session, row: RulebookVersion, actor: str, actor_user_id: int | None) -> None:
    record(session, community_id=row.community_id, actor=actor, actor_user_id=actor_user_id,
           action="rulebook.version", target=f"rules v{row.version}", at=row.created_at,
           before={"version": row.version - 1} if row.version > 1 else None,
           after={"version": row.version, "origin": row.origin, "content_hash": row.content_hash,
                  "comment": row.comment or ""})


def create_version(session: Session, community: Community, data: object, *, clock: Clock, user_id: int | None,
                   origin: str = "web", comment: str = "", source_text: str = "",
                   actor: str = "system") -> RulebookVersion:
    """A staff edit: always version N+1 (whatever the document says); RulebookError when invalid."""
    number = _next_number(session, community.id)
    if isinstance(data, dict):
        data = {**data, "version": number}
    spec = validate(data, f"rules of {community.slug}")
    current = latest(session, community.id)
    if current is not None and current.content_hash == content_hash(spec):
        raise RulebookError(f"rules of {community.slug}", [f"rules: nothing changed since version {current.version}"])
    row = RulebookVersion(community_id=community.id, version=number, content_hash=content_hash(spec), spec=spec,
                          source_text=source_text or yaml.safe_dump(spec, sort_keys=False, allow_unicode=True),
                          origin=origin, comment=comment[:500], created_by_id=user_id, created_at=clock.now())
    session.add(row)
    session.flush()  # two racing edits collide on (community, version) here
    _audit(session, row, actor, user_id)
    return row


def create_from_text(session: Session, community: Community, text: str, *, clock: Clock, user_id: int | None,
                     origin: str = "web", comment: str = "", actor: str = "system") -> RulebookVersion:
    spec = load_text(text, f"rules of {community.slug}")
    return create_version(session, community, spec, clock=clock, user_id=user_id, origin=origin, comment=comment,
                          source_text=text, actor=actor)


def _store_file(session: Session, community: Community, spec: dict[str, Any], text: str, origin: str,
                clock: Clock, actor: str) -> bool:
    digest = content_hash(spec)
    if origin == "default":  # the starting rules: only for a community that has none
        if latest(session, community.id) is not None:
            return False
        spec = {**spec, "version": 1}
    same = get_version(session, community.id, spec["version"])
    if same is not None:
        if same.content_hash == digest:
            return False
        raise VersionConflict(f"{community.slug}: the file changed but its version is still {spec['version']}; "
                              f"set version: {_next_number(session, community.id)} to publish the change")
    newest = latest(session, community.id)
    if newest is not None and spec["version"] < newest.version:
        raise VersionConflict(f"{community.slug}: version {spec['version']} is older than the stored version "
                              f"{newest.version}; set version: {newest.version + 1}")
    row = RulebookVersion(community_id=community.id, version=spec["version"], content_hash=digest, spec=spec,
                          source_text=text, origin=origin, comment="", created_at=clock.now())
    session.add(row)
    session.flush()
    _audit(session, row, actor, None)
    return True


def load_dir(directory: Path = RULES_DIR) -> tuple[dict[str, tuple[dict[str, Any], str]], list[RulebookError]]:
    """Every rules/*.yaml validated: {stem: (spec, text)} and the errors."""
    good: dict[str, tuple[dict[str, Any], str]] = {}
    bad: list[RulebookError] = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text()
        try:
            good[path.stem] = (load_text(text, path.name), text)
        except RulebookError as exc:
            bad.append(exc)
    return good, bad


def sync(session: Session, *, clock: Clock, directory: Path = RULES_DIR,
         actor: str = "system") -> tuple[SyncReport, list[RulebookError]]:
    """Store each community's file as a version; give default.yaml to communities with no rules."""
    report = SyncReport()
    files, bad = load_dir(directory)
    for community in session.scalars(select(Community).order_by(Community.slug)):
        name = community.slug if community.slug in files else DEFAULT if DEFAULT in files else None
        if name is None:
            continue
        spec, text = files[name]
        origin = "file" if name == community.slug else "default"
        try:
            created = _store_file(session, community, spec, text, origin, clock, actor)
        except VersionConflict as exc:
            report.refused.append(str(exc))
            continue
        label = f"{community.slug} v{latest(session, community.id).version}"  # type: ignore[union-attr]
        (report.created if created else report.unchanged).append(label + (" (default)" if origin == "default" else ""))
    return report, bad


def default_text(directory: Path = RULES_DIR) -> str:
    path = directory / f"{DEFAULT}.yaml"
    return path.read_text() if path.exists() else ""


def diff(old: RulebookVersion, new: RulebookVersion) -> dict[str, Any]:
    def dump(row: RulebookVersion) -> list[str]:
        body = {k: v for k, v in row.spec.items() if k != "version"}
        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100).splitlines(keepends=True)

    old_rules = {r["id"]: r for r in old.spec["rules"]}
    new_rules = {r["id"]: r for r in new.spec["rules"]}
    return {"from": old.version, "to": new.version,
            "diff": "".join(difflib.unified_diff(dump(old), dump(new), f"v{old.version}", f"v{new.version}")),
            "rules_added": sorted(set(new_rules) - set(old_rules)),
            "rules_removed": sorted(set(old_rules) - set(new_rules)),
            "rules_changed": sorted(k for k in set(old_rules) & set(new_rules) if old_rules[k] != new_rules[k])}
