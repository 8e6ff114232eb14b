"""/api/v1/playbooks: the catalogue, its immutable versions, diffs, and edits as version N+1.

Playbooks are shared by every community (they live in the repository's playbooks/);
any staff member may read them, and publishing a new version takes an admin of some
community, since it changes what every later incident runs."""
from __future__ import annotations

import yaml
from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crisis import playbooks
from crisis.api import serialize
from crisis.api.errors import abort
from crisis.api.staff import current_user, field, json_body, my_community_ids
from crisis.models import Membership, PlaybookVersion, Role
from crisis.webctx import db, rt

bp = Blueprint("api_playbooks", __name__)

# Version numbers are stored in a 32-bit integer column (PostgreSQL INTEGER): anything
# larger can name no version, and SQLite cannot even bind it.
MAX_VERSION = 2**31 - 1


def _reader() -> None:
    current_user()
    if not my_community_ids():
        abort(403, "forbidden", "playbooks are visible to staff of at least one community")


def _version(name: str, version: int) -> PlaybookVersion:
    row = playbooks.get_version(db(), name, version) if 1 <= version <= MAX_VERSION else None
    if row is None:
        abort(404, "not_found", f"playbook {name!r} has no version {version}")
    return row


@bp.get("/api/v1/playbooks")
def list_playbooks() -> Response:
    _reader()
    out = []
    for name in playbooks.names(db()):
        latest = playbooks.latest(db(), name)
        if latest is not None:
            out.append(serialize.playbook_version(latest))
    return jsonify({"playbooks": out})


@bp.get("/api/v1/playbooks/<name>/versions")
def list_versions(name: str) -> Response:
    _reader()
    rows = list(db().scalars(select(PlaybookVersion).where(PlaybookVersion.name == name)
                             .order_by(PlaybookVersion.version)))
    if not rows:
        abort(404, "not_found", f"no playbook {name!r}")
    return jsonify({"name": name, "versions": [serialize.playbook_version(r) for r in rows]})


@bp.get("/api/v1/playbooks/<name>/versions/<int:version>")
def get_version(name: str, version: int) -> Response:
    _reader()
    return jsonify(serialize.playbook_version(_version(name, version), full=True))


@bp.get("/api/v1/playbooks/<name>/diff")
def diff(name: str) -> Response:
    _reader()
    old, new = _version_param("from"), _version_param("to")
    return jsonify(playbooks.diff(_version(name, old), _version(name, new)))


def _version_param(param: str) -> int:
    """A required version number from the query string: a positive integer up to MAX_VERSION."""
    raw = request.args.get(param)
    if raw is None:
        abort(400, "bad_query", f"{param}: is required (a version number, e.g. ?from=1&to=2)", parameter=param)
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_VERSION)) \
            or not 1 <= int(text) <= MAX_VERSION:
        abort(400, "bad_query", f"{param}: {raw[:40]!r} is not a version number (an integer from 1 to {MAX_VERSION})",
              parameter=param)
    return int(text)


@bp.post("/api/v1/playbooks/<name>/versions")
def create_version(name: str) -> tuple[Response, int]:
    user = current_user()
    is_admin = db().scalar(select(Membership.id).where(Membership.user_id == user.id,
                                                       Membership.role == Role.ADMIN.value).limit(1))
    if not is_admin:
        abort(403, "forbidden", "publishing a playbook version needs the admin role in a community")
    if playbooks.latest(db(), name) is None:
        abort(404, "not_found",
              f"no playbook {name!r}; new playbooks start as files in playbooks/ (crisis playbooks sync)")
    body = json_body()
    source = field(body, "source", str, required=False)
    spec = field(body, "spec", dict, required=source is None)
    if source is not None:
        try:
            spec = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            abort(422, "invalid_playbook", f"source: not valid YAML ({exc})", field="source")
    try:
        row = playbooks.create_version(db(), name, spec, clock=rt().clock, user_id=user.id,
                                       comment=field(body, "comment", str, required=False, default=""),
                                       source_text=source or "", actor=user.email)
        db().commit()
    except playbooks.PlaybookError as exc:
        db().rollback()
        abort(422, "invalid_playbook", f"{len(exc.problems)} problem(s) in the playbook", problems=exc.problems)
    except IntegrityError:
        db().rollback()
        abort(409, "conflict", f"another version of {name!r} was published at the same time; retry")
    return jsonify(serialize.playbook_version(row, full=True)), 201
