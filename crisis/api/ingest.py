"""POST /api/v1/communities/<slug>/events: parse, validate, store, ring the detectors."""
from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import select

from crisis.api import ratelimit
from crisis.api.auth import bearer_value, check_live, check_scope, touch
from crisis.api.errors import ApiError, abort
from crisis.ingest.fast_path import decode_valid_array
from crisis.ingest.pgdirect import DatabaseUnavailable
from crisis.ingest.store import IngestResult, store_events, store_for_token
from crisis.ingest.validate import ValidEvent, validate_batch
from crisis.insight import metrics
from crisis.jobs import names
from crisis.models import ApiToken, Community
from crisis.tenancy.credentials import hash_token
from crisis.webctx import db, rt

bp = Blueprint("ingest", __name__)

MAX_EVENTS = 10_000
JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl"}


def _is_json(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or mimetype.endswith("+json")


def _parse_body(raw: bytes) -> tuple[list[Any], bytes | None]:
    """The events, and the body itself when it is a plain JSON array of them (stored as
    sent: crisis.ingest.store.encode_body)."""
    mimetype = request.mimetype
    if _is_json(mimetype):
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            abort(400, "bad_json", f"the body is not valid JSON: {exc}")
        if isinstance(body, list):
            return body, raw
        if isinstance(body, dict):
            if set(body) != {"events"}:
                abort(400, "bad_body", "an object body must be {\"events\": [...]} and nothing else")
            body = body["events"]
        if not isinstance(body, list):
            abort(400, "bad_body", "the body must be a JSON array of events or {\"events\": [...]}")
        return body, None
    if mimetype in NDJSON_TYPES:
        events: list[Any] = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except (ValueError, UnicodeDecodeError) as exc:
                abort(400, "bad_ndjson", f"line {number} is not valid JSON: {exc}", line=number)
        return events, None
    shown = mimetype or "none"
    abort(415, "unsupported_media_type",
          f"Content-Type {shown!r} is not accepted; send application/json or application/x-ndjson")


@bp.post("/api/v1/communities/<slug>/events")
def post_events(slug: str) -> tuple[Response, int]:
    try:
        if rt().engine.dialect.name == "postgresql":
            return _post_events_direct(slug)
        return _post_events_session(slug)
    except ApiError as exc:
        metrics.count_rejected(exc.error, int(exc.extra.pop("_events", 1)))
        raise
    except DatabaseUnavailable:  # answered by crisis.api.errors, counted here like the others
        metrics.count_rejected("database_unavailable")
        raise


def _token_and_community(slug: str) -> tuple[ApiToken, Community]:
    """The token, the community and the answers when they do not match, in this order:
    401 (unknown or revoked token), 401 (expired), 404 (no such community), 403 (wrong kind
    of token, or another community's, or without events:write). One query for token and
    community."""
    value = bearer_value()
    row = db().execute(select(ApiToken, Community).outerjoin(Community, Community.slug == slug)
                       .where(ApiToken.token_hash == hash_token(value))).first()
    if row is None or row[0].revoked_at is not None:
        abort(401, "unauthorized", "unknown or revoked token")
    token, community = row
    check_live(token)
    g.api_token = token
    if community is None:
        abort(404, "not_found", f"no community {slug!r}")
    if token.kind != "ingest":
        abort(403, "forbidden", "this route takes an ingest token; personal tokens cannot post events")
    if token.community_id != community.id:
        abort(403, "forbidden", f"this ingest token does not belong to community {slug!r}")
    check_scope(token)
    return token, community


def _check_rate(token_hash: str) -> None:
    wait = ratelimit.limits().ingest.wait(token_hash)
    if wait is not None:
        metrics.count_rate_limited("ingest")
        raise ApiError(429, "rate_limited", f"too many requests for this token; retry in {wait}s",
                       headers={"Retry-After": str(wait)}, retry_after=wait)


def _valid_events(slug: str) -> tuple[list[ValidEvent], bytes | None]:
    body = request.get_data(cache=False)
    if _is_json(request.mimetype):
        typed = decode_valid_array(body, slug, rt().clock.now(), limit=MAX_EVENTS)
        if typed is not None:
            return typed, body
    events, raw = _parse_body(body)
    if len(events) > MAX_EVENTS:
        abort(413, "too_many_events", f"{len(events)} events in one request; the limit is {MAX_EVENTS}")
    valid, errors = validate_batch(events, slug, rt().clock.now())
    if errors:
        abort(422, "invalid_events", f"{len(errors)} problem(s) found; nothing was stored",
              errors=[e.as_dict() for e in errors], _events=len(events))
    return valid, raw


def _post_events_direct(slug: str) -> tuple[Response, int]:
    """PostgreSQL: the token check and the insert in ONE round trip (crisis.ingest.store_for_token).
    Any refusal is explained by the session path's checks, so the answers and their order
    (401, 404, 403, then the body's errors) are the same on both paths; a token over its rate
    limit hears 429 before anything is looked up."""
    token_hash = hash_token(bearer_value())
    _check_rate(token_hash)
    checked = not _recently_stored(token_hash)
    if checked:
        # A token this process has not seen store a batch is checked before the body is
        # parsed, so an unknown token costs a query, not a parse, a validation and a
        # compression of up to MAX_EVENTS events.
        _token_and_community(slug)
    try:
        valid, raw = _valid_events(slug)
    except ApiError:
        if not checked:
            _token_and_community(slug)  # a bad token is the first thing to say
        _count_and_ring(token_hash)
        raise
    now = rt().clock.now()
    stored = rt().direct.run(lambda conn: store_for_token(conn, token_hash, slug, valid, now, raw))
    if stored is None:
        _token_and_community(slug)  # says why: 401, 404 or 403
        # The token turned valid between the two looks: store it the slow way.
        return _post_events_session(slug, (valid, raw))
    community_id, result = stored
    _STORED_BY[token_hash] = time.monotonic()
    return _answer(slug, community_id, token_hash, result)


# Token hashes that stored a batch through this process lately, and when. Only these skip
# the token query before parsing; the insert statement checks them again (revocation too).
_STORED_BY: dict[str, float] = {}
_STORED_FOR = 60.0


def _recently_stored(token_hash: str) -> bool:
    seen = _STORED_BY.get(token_hash)
    if seen is None or time.monotonic() - seen > _STORED_FOR:
        if len(_STORED_BY) > 10_000:
            _STORED_BY.clear()  # tokens come and go; forgetting them only costs a query each
        return False
    return True


def _post_events_session(slug: str, parsed: tuple[list[ValidEvent], bytes | None] | None = None
                          ) -> tuple[Response, int]:
    token, community = _token_and_community(slug)
    session = db()
    if parsed is None:
        _check_rate(token.token_hash)
        try:
            parsed = _valid_events(slug)
        except ApiError:
            _count_and_ring(token.token_hash)
            raise
    valid, raw = parsed
    with rt().single_writer:
        result = store_events(session, community, valid, clock=rt().clock, raw=raw)
        touch(token)
        session.commit()
    return _answer(slug, community.id, token.token_hash, result)


def _answer(slug: str, community_id: int, token_hash: str, result: IngestResult) -> tuple[Response, int]:
    metrics.count_ingested(slug, result.types)
    metrics.count_duplicates(slug, result.duplicates)
    _count_and_ring(token_hash, community_id if result.accepted else None)
    return jsonify({"accepted": result.accepted, "duplicates": result.duplicates}), 202


def _count_and_ring(token_hash: str, community_id: int | None = None) -> None:
    """One Redis round trip: count the request against the token's rate limit (a refused
    body counts too: garbage costs CPU) and, given the community whose events were just
    stored, ring its detect queue."""
    ingest = ratelimit.limits().ingest
    try:
        if community_id is None:
            rt().jobs.ring_counted(lambda pipe: ingest.count(pipe, token_hash), None)
        else:
            rt().jobs.ring_counted(lambda pipe: ingest.count(pipe, token_hash), names.DETECT,
                                   names.detect_bell(community_id), community_id)
    except Exception:  # noqa: BLE001
        # Stored events are committed; the sweeper rings for them once Redis is back.
        current_app.logger.warning("could not count or ring for community %s", community_id, exc_info=True)
