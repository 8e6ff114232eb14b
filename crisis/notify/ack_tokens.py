"""Signed, expiring acknowledge tokens: what a notification's one-click link carries.

The expiry is in the payload and checked against the injected clock, not time.time(). The
page that redeems a token is crisis.web.acklinks."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from crisis.config import Config

SALT = "crisis.ack.v1"


class LinkError(ValueError):
    pass


def _serializer(config: Config) -> URLSafeSerializer:
    return URLSafeSerializer(config.secret_key, salt=SALT)


def make_token(config: Config, *, incident_id: int, user_id: int | None, now: datetime, hours: int) -> str:
    # The expiry is in the payload and checked against the injected clock, not time.time().
    expires = int((now + timedelta(hours=hours)).timestamp())
    return _serializer(config).dumps({"i": incident_id, "u": user_id, "e": expires})


def make_link(config: Config, *, incident_id: int, user_id: int | None, now: datetime, hours: int) -> str:
    return f"{config.base_url}/ack/{make_token(config, incident_id=incident_id, user_id=user_id, now=now, hours=hours)}"


def read_token(config: Config, token: str, now: datetime) -> dict[str, Any]:
    try:
        data = _serializer(config).loads(token)
    except BadSignature:
        raise LinkError("this link is not valid (it may have been cut short or altered)") from None
    if not isinstance(data, dict) or not {"i", "u", "e"} <= set(data):
        raise LinkError("this link is not valid")
    if now.timestamp() > data["e"]:
        raise LinkError("this link has expired; acknowledge from the incident page instead")
    return data
