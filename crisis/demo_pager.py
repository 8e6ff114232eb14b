"""The demo's pager: a JSON receiver on loopback that stands in for a phone. `make run`
gives the demo admin a contact method pointing here (apprise's json://), so a newcomer
sees pages arrive: each is printed and appended to var/demo-pages.jsonl."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 1024 * 1024


def contact_url(port: int) -> str:
    return f"json://127.0.0.1:{port}/demo-pager"


def _handler(out: Path) -> type[BaseHTTPRequestHandler]:
    class Pager(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 -- http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, MAX_BODY))
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = {"message": raw.decode("utf-8", "replace")}
            page = {"received_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "title": body.get("title", "") if isinstance(body, dict) else "",
                    "message": body.get("message", "") if isinstance(body, dict) else str(body)}
            with out.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(page, ensure_ascii=False) + "\n")
            print(f"demo pager: {page['title']}", flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the parent's signature
            pass  # one line per page (above) is enough

    return Pager


def serve(port: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(out))
    print(f"demo pager listening on 127.0.0.1:{port}; pages go to {out}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
