"""Stored playbook versions: sync from files, edits through the API, selection and diffs.

A stored version never changes. Incidents pin (name, version) when they open, so
later versions only affect incidents opened after them."""
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
from crisis.models import PlaybookVersion
from crisis.playbooks.spec import PlaybookError, content_hash, load_text, matches, validate
from crisis.versioned import SyncReport

PLAYBOOK_DIR = ROOT / "playbooks"
FALLBACK = "default"


class VersionConflict(ValueError):
    """A changed playbook kept its version number, or went backwards."""


def load_dir(directory: Path = PLAYBOOK_DIR) -> tuple[list[tuple[Path, dict[str, Any], str]], list[PlaybookError]]:
    """Every *.yaml under `directory`, validated. Returns (path, spec, text) and the errors."""
    good: list[tuple[Path, dict[str, Any], str]] = []
    bad: list[PlaybookError] = []
    names: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text()
        try:
            spec = load_text(text, path.name)
        except PlaybookError as exc:
            bad.append(exc)
            continue
        if spec["name"] in names:
            bad.append(PlaybookError(path.name, [f"name: {spec['name']!r} is also used by {names[spec['name']].name}"]))
            continue
        if path.stem != spec["name"]:
            bad.append(PlaybookError(path.name, [f"name: {spec['name']!r} must match the file name {path.stem!r}"]))
            continue
        names[spec["name"]] = path
        good.append((path, spec, text))
    if FALLBACK not in names and not bad:
        bad.append(PlaybookError(str(directory),
                                 [f"a {FALLBACK}.yaml playbook is required (the fallback for any kind)"]))
    return good, bad


def latest(session: Session, name: str) -> PlaybookVersion | None:
    return session.scalar(select(PlaybookVersion).where(PlaybookVersion.name == name)
                          .order_by(PlaybookVersion.version.desc()).limit(1))


def get_version(session: Session, name: str, version: int) -> PlaybookVersion | None:
    return session.scalar(select(PlaybookVersion).where(PlaybookVersion.name == name,
                                                        PlaybookVersion.version == version))


def _audit(session: Session, row: PlaybookVersion, actor: str, actor_user_id: int | None) -> None:
    # Playbooks are shared by every community, so the row names none (crisis.audit.query
    # shows playbook rows to every community's admins).
    record(session, community_id=None, actor=actor, actor_user_id=actor_user_id, action="playbook.version",
           target=f"playbook {row.name} v{row.version}", at=row.created_at,
           before={"version": row.version - 1} if row.version > 1 else None,
           after={"version": row.version, "origin": row.origin, "content_hash": row.content_hash,
                  "comment": row.comment or ""})


def store_file_version(session: Session, spec: dict[str, Any], text: str, *, clock: Clock,
                       actor: str = "system") -> bool:
    """Store a file's version. False when it is already stored; VersionConflict when it
    changed without a new version number (or went behind the stored versions)."""
    digest = content_hash(spec)
    name, version = spec["name"], spec["version"]
    same = get_version(session, name, version)
    if same is not None:
        if same.content_hash == digest:
            return False
        raise VersionConflict(f"{name}: the file changed but its version is still {version}; "
                              f"set version: {_next_number(session, name)} to publish the change")
    newest = latest(session, name)
    if newest is not None and version < newest.version:
        raise VersionConflict(f"{name}: version {version} is older than the stored version {newest.version}; "
                              f"set version: {newest.version + 1}")
    row = PlaybookVersion(name=name, version=version, content_hash=digest, spec=spec, source_text=text,
                          origin="file", comment="", created_at=clock.now())
    session.add(row)
    session.flush()
    _audit(session, row, actor, None)
    return True


def sync(session: Session, *, clock: Clock, directory: Path = PLAYBOOK_DIR,
         actor: str = "system") -> tuple[SyncReport, list[PlaybookError]]:
    report = SyncReport()
    good, bad = load_dir(directory)
    for path, spec, text in good:
        label = f"{spec['name']} v{spec['version']}"
        try:
            # Conflicts are found before anything is written, so no savepoint is needed.
            created = store_file_version(session, spec, text, clock=clock, actor=actor)
        except VersionConflict as exc:
            report.refused.append(f"{path.name}: {exc}")
            continue
        (report.created if created else report.unchanged).append(label)
    return report, bad


def _next_number(session: Session, name: str) -> int:
    return (session.scalar(select(func.max(PlaybookVersion.version)).where(PlaybookVersion.name == name)) or 0) + 1


def create_version(session: Session, name: str, data: object, *, clock: Clock, user_id: int | None,
                   comment: str = "", source_text: str = "", actor: str = "system") -> PlaybookVersion:
    """An edit through the API: always version N+1 (whatever version the body says)."""
    if isinstance(data, dict):
        data = {**data, "name": name, "version": _next_number(session, name)}
    spec = validate(data, f"playbook {name}")
    row = PlaybookVersion(name=name, version=spec["version"], content_hash=content_hash(spec), spec=spec,
                          source_text=source_text or yaml.safe_dump(spec, sort_keys=False, allow_unicode=True),
                          origin="api", comment=comment[:500], created_by_id=user_id, created_at=clock.now())
    session.add(row)
    session.flush()  # two racing edits collide on (name, version) here
    _audit(session, row, actor, user_id)
    return row


def names(session: Session) -> list[str]:
    return list(session.scalars(select(PlaybookVersion.name).distinct().order_by(PlaybookVersion.name)))


def select_for(session: Session, kind: str, severity: str) -> PlaybookVersion | None:
    """The newest version of the best matching playbook: one naming the kind beats a wildcard."""
    candidates: list[tuple[int, str, PlaybookVersion]] = []
    for name in names(session):
        row = latest(session, name)
        score = matches(row.spec, kind, severity) if row is not None else 0
        if row is not None and score:
            candidates.append((-score, name, row))
    if not candidates:
        return latest(session, FALLBACK)
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


def diff(old: PlaybookVersion, new: PlaybookVersion) -> dict[str, Any]:
    """A unified diff of the canonical YAML plus which steps were added, removed or changed."""
    def dump(row: PlaybookVersion) -> list[str]:
        body = {k: v for k, v in row.spec.items() if k != "version"}
        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100).splitlines(keepends=True)

    text = "".join(difflib.unified_diff(dump(old), dump(new), f"{old.name} v{old.version}",
                                        f"{new.name} v{new.version}"))
    old_steps = {s["id"]: s for s in old.spec["steps"]}
    new_steps = {s["id"]: s for s in new.spec["steps"]}
    changed_sections = sorted(k for k in set(old.spec) | set(new.spec)
                              if k != "version" and old.spec.get(k) != new.spec.get(k))
    return {
        "name": new.name, "from": old.version, "to": new.version, "diff": text,
        "sections_changed": changed_sections,
        "steps_added": sorted(set(new_steps) - set(old_steps)),
        "steps_removed": sorted(set(old_steps) - set(new_steps)),
        "steps_changed": sorted(k for k in set(old_steps) & set(new_steps) if old_steps[k] != new_steps[k]),
    }
