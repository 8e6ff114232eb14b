"""Links members open without logging in: a complainant's case page and a penalised
member's penalty page (with its appeal form).

Signed, not stored: the token is the row's id signed with the secret key under a salt of
its own (as acknowledge links are, crisis.notify.ack_tokens), so a link can be given again
at any time (staff copying it, a bot through the API) and cannot be guessed or turned into
another kind of link. They do not expire: a complainant may look weeks later."""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from crisis.config import Config

CASE_SALT = "crisis.case.v1"
PENALTY_SALT = "crisis.penalty.v1"


def _serializer(config: Config, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(config.secret_key, salt=salt)


def token(config: Config, salt: str, row_id: int) -> str:
    return str(_serializer(config, salt).dumps({"id": row_id}))


def read(config: Config, salt: str, value: str) -> int | None:
    """The id the token names, or None when it is not one of ours."""
    try:
        data = _serializer(config, salt).loads(value)
    except BadSignature:
        return None
    row_id = data.get("id") if isinstance(data, dict) else None
    return row_id if isinstance(row_id, int) and not isinstance(row_id, bool) else None


def case_url(config: Config, slug: str, case_id: int) -> str:
    return f"{config.base_url}/p/{slug}/cases/{token(config, CASE_SALT, case_id)}"


def penalty_url(config: Config, slug: str, penalty_id: int) -> str:
    return f"{config.base_url}/p/{slug}/penalties/{token(config, PENALTY_SALT, penalty_id)}"


def rules_url(config: Config, slug: str) -> str:
    return f"{config.base_url}/p/{slug}/rules"
