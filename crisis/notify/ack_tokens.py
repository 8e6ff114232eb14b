"""Signed, expiring one-click tokens that notifications carry: acknowledge an incident
(crisis.web.acklinks) and approve a proposed containment action such as "lock down for
2 h" (crisis.web.containlinks). Each has its own salt, so one kind of token can never be
replayed as the other.

The expiry is in the payload and checked against the injected clock, not time.time()."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from crisis.config import Config

SALT = "crisis.ack.v1"
ACTION_SALT = "crisis.contain.v1"


class LinkError(ValueError):
    pass


def _serializer(config: Config, salt: str = SALT) -> URLSafeSerializer:
    return URLSafeSerializer(config.secret_key, salt=salt)


def make_token(config: Config, *, incident_id: int, user_id: int | None, now: datetime, hours: int) -> str:
    # The expiry is in the payload and checked against the injected clock, not time.time().
    expires = int((now + timedelta(hours=hours)).timestamp())
    return _serializer(config).dumps({"i": incident_id, "u": user_id, "e": expires})


def make_link(config: Config, *, incident_id: int, user_id: int | None, now: datetime, hours: int) -> str:
    return f"{config.base_url}/ack/{make_token(config, incident_id=incident_id, user_id=user_id, now=now, hours=hours)}"


def read_token(config: Config, token: str, now: datetime) -> dict[str, Any]:
    return _read(config, token, now, SALT, {"i", "u", "e"}, "acknowledge from the incident page instead")


ACTION_VERBS = ("approve", "undo")


def make_action_link(config: Config, *, action_id: int, user_id: int, now: datetime, hours: int,
                     verb: str = "approve") -> str:
    assert verb in ACTION_VERBS
    expires = int((now + timedelta(hours=hours)).timestamp())
    token = _serializer(config, ACTION_SALT).dumps({"a": action_id, "u": user_id, "e": expires, "v": verb})
    return f"{config.base_url}/contain/{token}"


def read_action_token(config: Config, token: str, now: datetime) -> dict[str, Any]:
    data = _read(config, token, now, ACTION_SALT, {"a", "u", "e", "v"}, "use the incident page instead")
    if data["v"] not in ACTION_VERBS:
        raise LinkError("this link is not valid")
    return data


def _read(config: Config, token: str, now: datetime, salt: str, keys: set[str], instead: str) -> dict[str, Any]:
    try:
        data = _serializer(config, salt).loads(token)
    except BadSignature:
        raise LinkError("this link is not valid (it may have been cut short or altered)") from None
    if not isinstance(data, dict) or not keys <= set(data):
        raise LinkError("this link is not valid")
    if now.timestamp() > data["e"]:
        raise LinkError(f"this link has expired; {instead}")
    return data
