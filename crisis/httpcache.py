"""HTTP caching for public pages: a strong ETag from what the page shows, answered with
304 when the client already has it, and a short shared max-age so a proxy or CDN absorbs
members reloading during a crisis without hiding an update for long."""
from __future__ import annotations

from flask import Response, request

MAX_AGE = 15
STALE = 30


def etag(digest: str) -> str:
    return f'"{digest}"'


def fresh(digest: str) -> bool:
    """The request's If-None-Match already names this version."""
    sent = request.headers.get("If-None-Match", "")
    return etag(digest) in {tag.strip() for tag in sent.split(",")} or sent.strip() == "*"


def apply(resp: Response, digest: str, *, vary: str = "") -> Response:
    resp.headers["ETag"] = etag(digest)
    resp.headers["Cache-Control"] = f"public, max-age={MAX_AGE}, stale-while-revalidate={STALE}"
    if vary:
        resp.headers["Vary"] = vary
    return resp


def not_modified(digest: str, *, vary: str = "") -> Response:
    return apply(Response(status=304), digest, vary=vary)
