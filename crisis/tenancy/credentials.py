"""Token and password hashing. Tokens are random and long, so one SHA-256 is enough;
passwords are short and guessable, so they get a slow, salted KDF. Credentials crisis must
present to another service are sealed (Fernet), not hashed."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
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


def _fernet(secret_key: str) -> Fernet:
    # A key of its own, derived from the service's secret key: rotating the secret key
    # makes sealed platform tokens unreadable, and the link must then be re-registered.
    digest = hashlib.sha256(b"crisis.sealed.v1\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret_key: str, plaintext: str) -> str:
    """Encrypt a credential crisis must present to someone else (a platform's bridge token)."""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def unseal(secret_key: str, sealed: str) -> str:
    try:
        return _fernet(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise ValueError("a sealed credential cannot be read with this secret key") from None
