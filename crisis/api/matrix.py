"""The Matrix application-service API crisis serves to a homeserver (Synapse pushes here).

Authenticated by the link's hs_token; a transaction is answered 200 only once its events
are committed, and a database outage answers 503 (crisis.api.errors), so the homeserver's
own retries (the same txnId, with backoff) lose nothing. Errors use Matrix's shape,
{"errcode", "error"}, naming what was wrong."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crisis.bridges import intake, links
from crisis.bridges.base import Account
from crisis.bridges.matrix.client import MatrixClient, MatrixError
from crisis.bridges.matrix.mapping import MatrixBridge
from crisis.models import PlatformAccount, PlatformLink
from crisis.webctx import db, rt

bp = Blueprint("matrix", __name__)
BRIDGE = MatrixBridge()


class MatrixApiError(Exception):
    def __init__(self, status: int, errcode: str, error: str) -> None:
        super().__init__(error)
        self.status, self.errcode, self.error = status, errcode, error


@bp.errorhandler(MatrixApiError)
def _matrix_error(exc: MatrixApiError) -> tuple[Response, int]:
    return jsonify({"errcode": exc.errcode, "error": exc.error}), exc.status


def _link() -> PlatformLink:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.args.get("access_token", "")
    if not token:
        raise MatrixApiError(401, "M_UNAUTHORIZED", "no hs_token: send Authorization: Bearer <hs_token>")
    link = links.by_inbound_token(db(), token)
    if link is None:
        raise MatrixApiError(403, "M_FORBIDDEN", "this hs_token belongs to no crisis platform link")
    return link


def _events() -> list[Any]:
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MatrixApiError(400, "M_NOT_JSON", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MatrixApiError(400, "M_BAD_JSON", "the body must be an object with an \"events\" list")
    events = body.get("events")
    if not isinstance(events, list):
        raise MatrixApiError(400, "M_BAD_JSON", "events: must be a list of room events")
    return events


def _accounts(link: PlatformLink, events: list[Any]) -> Any:
    """Account lookups for one transaction: every account it names read from the cache table
    in one query, then (with a server admin token) Synapse's admin users API for the ones
    not seen before, whose answers are cached."""
    session, config, now = db(), rt().config, rt().clock.now()
    named = {str(v) for e in events if isinstance(e, dict)
             for v in (e.get("sender"), e.get("state_key")) if isinstance(v, str) and v.startswith("@")}
    memo: dict[str, Account | None] = {}
    for row in session.scalars(select(PlatformAccount).where(PlatformAccount.link_id == link.id,
                                                             PlatformAccount.user_id.in_(named))):
        memo[row.user_id] = Account(row.user_id, row.display_name, row.created_at)
    token = links.admin_token(link, config.secret_key)
    client = MatrixClient(link.endpoint, token, timeout=2.0) if token else None

    local = ":" + links.server_name(link)

    def lookup(user_id: str) -> Account | None:
        if user_id in memo:
            return memo[user_id]
        account = None
        if client is not None and user_id.endswith(local):  # other servers' accounts are not ours to ask
            try:
                account = client.account(user_id)
            except MatrixError as exc:
                links.record_error(link, f"account lookup: {exc}", now)
            else:
                session.add(PlatformAccount(link_id=link.id, user_id=user_id[:255],
                                            display_name=account.display_name[:255],
                                            created_at=account.created_at, fetched_at=now))
        memo[user_id] = account
        return account

    return lookup


def transaction(txn_id: str) -> tuple[Response, int]:
    link = _link()
    events = _events()
    session = db()
    if intake.seen(session, link, txn_id):  # a retry of what is already stored
        return jsonify({}), 200
    try:
        with rt().single_writer:
            intake.receive(session, link, txn_id, events, bridge=BRIDGE, accounts=_accounts(link, events),
                           clock=rt().clock)
            session.commit()
    except IntegrityError:
        # The same transaction raced in on another connection, and committed first.
        session.rollback()
        if not intake.seen(session, link, txn_id):
            raise
    return jsonify({}), 200


def user_query(user_id: str) -> tuple[Response, int]:
    _link()
    raise MatrixApiError(404, "M_NOT_FOUND", "crisis does not create users on demand")


def room_query(alias: str) -> tuple[Response, int]:
    _link()
    raise MatrixApiError(404, "M_NOT_FOUND", "crisis does not create rooms on demand")


def ping() -> tuple[Response, int]:
    _link()
    return jsonify({}), 200


bp.add_url_rule("/_matrix/app/v1/transactions/<path:txn_id>", "transaction", transaction, methods=["PUT"])
bp.add_url_rule("/_matrix/app/v1/users/<path:user_id>", "user", user_query, methods=["GET"])
bp.add_url_rule("/_matrix/app/v1/rooms/<path:alias>", "room", room_query, methods=["GET"])
bp.add_url_rule("/_matrix/app/v1/ping", "ping", ping, methods=["POST"])
