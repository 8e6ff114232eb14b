"""Token and password hashing. Tokens are random and long, so one SHA-256 is enough;
passwords are short and guessable, so they get a slow, salted KDF."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

TOKEN_PREFIXES = {"ingest": "cri_", "personal": "crp_"}


def new_token(kind: str) -> str:
    return TOKEN_PREFIXES[kind] + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
