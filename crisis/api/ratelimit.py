"""Rate limits in Redis: fixed windows, one INCR+EXPIRE round trip per request (for ingest,
shared with the detectors' doorbell: IngestLimiter).

A fixed window lets a client send up to twice the limit across a window edge; that is
acceptable for abuse control and costs one round trip (a token bucket needs a script).
Counting is per request, not per event, so the ingest path pays it once per batch.

When Redis is unreachable the limiter lets requests through (ingest keeps working;
the database is the record) and stops asking Redis for a few seconds, so an outage
does not add a connection timeout to every request.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, request
from redis import Redis

from crisis.insight import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    requests: int
    window: int  # seconds


# Per ingest token: 300 batch requests a second, far above any single community's feed.
INGEST = Limit(3000, 10)
# Login: per client address and per submitted e-mail. The account lockout after 5 failed
# passwords (crisis.web.auth) still applies; this stops spraying across accounts.
LOGIN_PER_ADDRESS = Limit(20, 60)
LOGIN_PER_ACCOUNT = Limit(10, 60)
# Per alert integration key: Alertmanager sends one request per group per group_interval,
# a PagerDuty-style script one per event; 50 a second is far above either, and a loop
# gone wrong is told to wait.
ALERTS = Limit(3000, 60)
# The public complaint form and appeal form (no login): per sender address and community, a
# member with something to report is never near it; per community, a brigade from many
# addresses is slowed without closing the form for everyone for long.
REPORTS_PER_ADDRESS = Limit(5, 600)
REPORTS_PER_COMMUNITY = Limit(300, 3600)
APPEALS_PER_ADDRESS = Limit(5, 3600)
_BACKOFF = 5.0


def _window(key: str, limit: Limit, now: float) -> tuple[int, str]:
    """The fixed window `now` falls in, and its counter's Redis key."""
    window = int(now // limit.window)
    return window, f"crisis:rl:{key}:{window}"


def _count_in(pipe: Any, bucket: str, limit: Limit) -> None:
    pipe.incr(bucket)
    pipe.expire(bucket, limit.window + 1)


def _wait(window: int, limit: Limit, now: float) -> int:
    """Seconds until the window after `window` opens."""
    return max(1, math.ceil((window + 1) * limit.window - now))


class RateLimits:
    """One app's limiters: the ingest memo and the memory of a Redis outage. Kept on the
    app (init_app), not in the module, so two apps in one process (tests) share nothing."""

    def __init__(self, redis: Callable[[], Redis[bytes]]) -> None:
        self._redis = redis
        self.ingest = IngestLimiter()
        self._down_until = 0.0

    def hit(self, key: str, limit: Limit, *, now: float | None = None) -> int | None:
        """Count one request against `key`. Returns seconds to wait when over the limit, else None."""
        now = time.time() if now is None else now
        if now < self._down_until:
            return None
        window, bucket = _window(key, limit, now)
        try:
            pipe = self._redis().pipeline(transaction=False)
            _count_in(pipe, bucket, limit)
            count = int(pipe.execute()[0])
        except Exception:  # noqa: BLE001
            self._down_until = now + _BACKOFF
            log.warning("rate limiter: Redis unavailable; not limiting for %.0fs", _BACKOFF)
            return None
        if count <= limit.requests:
            return None
        return _wait(window, limit, now)

    def check_login(self, address: str, email: str) -> int | None:
        """Seconds the client must wait before trying to log in again, or None.

        Counts the attempt against both the client address and the account name; the
        UI may call this itself to render its own page, or rely on init_app's 429."""
        per_address = self.hit(f"login-ip:{address}", _limit("RATELIMIT_LOGIN_ADDRESS", LOGIN_PER_ADDRESS))
        account = email.strip().lower()[:254]
        per_account = self.hit(f"login-user:{account}", _limit("RATELIMIT_LOGIN_ACCOUNT", LOGIN_PER_ACCOUNT)) \
            if account else None
        waits = [w for w in (per_address, per_account) if w is not None]
        return max(waits) if waits else None

    def check_public_form(self, form: str, address: str, slug: str) -> int | None:
        """Seconds the sender of a public form (`report` or `appeal`) must wait, or None."""
        if form == "report":
            waits = [self.hit(f"report-ip:{slug}:{address}", _limit("RATELIMIT_REPORTS_ADDRESS", REPORTS_PER_ADDRESS)),
                     self.hit(f"report:{slug}", _limit("RATELIMIT_REPORTS_COMMUNITY", REPORTS_PER_COMMUNITY))]
        else:
            waits = [self.hit(f"appeal-ip:{slug}:{address}", _limit("RATELIMIT_APPEALS_ADDRESS", APPEALS_PER_ADDRESS))]
        found = [w for w in waits if w is not None]
        return max(found) if found else None

    def check_alerts(self, key_hash: str) -> int | None:
        """Seconds the sender of this integration key must wait, or None."""
        return self.hit(f"alerts:{key_hash[:24]}", _limit("RATELIMIT_ALERTS", ALERTS))


class IngestLimiter:
    """Per ingest token, without a Redis round trip of its own.

    The ingest path counts a request in the same pipelined round trip that rings the
    detectors, after the batch is stored, and this process remembers the count Redis
    returned for the token's current window. A request is refused while the remembered
    count has reached the limit. In one process that is exactly the fixed-window limit;
    across processes a token may overshoot by a few requests before each has
    seen the count (one per request in flight: threads × processes), which is fine for abuse
    control and saves a round trip per request
    (the rate limit was a fifth of the web tier's samples under load).

    Keyed by (a prefix of) the token's hash: the hot path asks before it has looked the
    token up, and the hash never reveals the token.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}  # key -> (window, count)
        self._lock = threading.Lock()  # gthread workers record from several threads

    @staticmethod
    def _key(token_hash: str) -> str:
        return f"ingest:{token_hash[:24]}"

    def wait(self, token_hash: str, *, now: float | None = None) -> int | None:
        """Seconds to wait when this token's window is full, else None."""
        now = time.time() if now is None else now
        limit = _limit("RATELIMIT_INGEST", INGEST)
        key = self._key(token_hash)
        window, _ = _window(key, limit, now)
        seen = self._seen.get(key)
        if seen is None or seen[0] != window or seen[1] < limit.requests:
            return None
        return _wait(window, limit, now)

    def count(self, pipe: Any, token_hash: str, *, now: float | None = None) -> Callable[[Any], None]:
        """Queue the INCR and EXPIRE of this request on `pipe`; returns what takes the
        INCR's result once the pipeline ran."""
        now = time.time() if now is None else now
        limit = _limit("RATELIMIT_INGEST", INGEST)
        key = self._key(token_hash)
        window, bucket = _window(key, limit, now)
        _count_in(pipe, bucket, limit)

        def record(count: Any) -> None:
            with self._lock:
                self._seen[key] = (window, int(count))
                if len(self._seen) > 10_000:  # tokens come and go; keep the memo bounded
                    self._seen = {k: v for k, v in self._seen.items() if v[0] == window}

        return record


def _limit(name: str, default: Limit) -> Limit:
    # Flask config may override (tests, benchmarks); the environment config stays strict.
    from flask import current_app, has_app_context

    if has_app_context():
        value = current_app.config.get(name)
        if isinstance(value, Limit):
            return value
    return default


def too_many(wait: int, *, json_body: bool) -> Response:
    if json_body:
        from crisis.api.errors import error_response

        resp = error_response(429, "rate_limited", f"too many requests; retry in {wait}s", retry_after=wait)
    else:
        resp = Response(f"Too many attempts. Try again in {wait} seconds.\n", status=429, mimetype="text/plain")
    resp.headers["Retry-After"] = str(wait)
    return resp


_EXTENSION = "crisis.ratelimits"


def limits() -> RateLimits:
    """The current app's limiters."""
    return current_app.extensions[_EXTENSION]  # type: ignore[no-any-return]


def init_app(app: Flask, redis: Callable[[], Redis[bytes]]) -> None:
    app.extensions[_EXTENSION] = RateLimits(redis)

    @app.before_request
    def _login_limit() -> Response | None:
        if request.method != "POST" or request.endpoint != "auth.login":
            return None
        wait = limits().check_login(request.remote_addr or "unknown", request.form.get("email", ""))
        if wait is None:
            return None
        metrics.count_rate_limited("login")
        return too_many(wait, json_body=False)

