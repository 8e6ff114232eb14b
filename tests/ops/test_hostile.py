"""Hostile strings: markup, event handlers, javascript: links, very long and odd Unicode.

They go in where people and communities put text (event content and actor ids, which the
detector turns into evidence; community and staff names; incident titles; notes;
status updates; playbook titles and step instructions) and must come out inert:

- in pages, checked in Chromium: no dialog, no injected element or handler in the DOM,
  the text shown as text;
- in notifications: the templates render plain text (no HTML escaping: &lt; in an SMS
  is a bug too), with no control characters and a one-line title; every channel kind
  that interprets markup (HTML email, HTML and Markdown services) receives it escaped."""
from __future__ import annotations

import email
import email.policy
import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import markdown
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis import playbooks, runtime
from crisis.app import create_app
from crisis.clock import FixedClock, SystemClock
from crisis.config import Config
from crisis.db import session_scope
from crisis.models import Channel, Community, Incident
from crisis.notify import render
from crisis.tenancy import communities
from tests.browser.conftest import PASSWORD, PageWatch, live_config, log_in, new_page, raid_events, watch  # noqa: F401 -- fixtures used by the browser test
from tests.engine.helpers import HttpReceiver, SmtpReceiver, receivers  # noqa: F401 -- fixture
from tests.live import LiveServer, wait_for

# ---- the strings ------------------------------------------------------------------------
# Every payload carries "xss-" in what it would run and "pwn" in what it would inject, so
# the checks below can tell an injected element from the page's own.
SCRIPT = '<script>alert("xss-script")</script>'
IMG = '<img src=x id=pwn-img onerror=alert("xss-img")>'
ATTR = '" onmouseover="alert(\'xss-attr\')" data-pwn="1'
SVG = '<svg id=pwn-svg onload=alert("xss-svg")>'
IFRAME = '<iframe id=pwn-frame src="javascript:alert(\'xss-frame\')"></iframe>'
RTL = "admin\u202egnp.exe"  # RIGHT-TO-LEFT OVERRIDE
ZWJ = "\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family"  # a ZWJ sequence
COMBINING = "Z\u0334\u0321\u031ba\u0338\u0322l\u0336g\u0337o\u0335"
EMOJI = "\U0001F525\U0001F6A8"
CONTROL = "bell\x07esc\x1b[31mred\x7fdel\x01soh\x00nul"
MARKUP = f"{SCRIPT} {IMG} {ATTR} {SVG}"
UNICODE = f"{RTL} {ZWJ} {COMBINING} {EMOJI}"

# Markdown notes: raw HTML is dropped by the sanitizer, javascript: links lose their href.
NOTE = "\n\n".join([
    "Note with **bold** kept",
    SCRIPT, IMG, IFRAME, SVG,
    '<a href="javascript:alert(\'xss-a\')" id=pwn-a>raw link</a>',
    "[md link](javascript:alert('xss-md'))",
    "[mixed case](JaVaScRiPt:alert('xss-case'))",
    "[entity](jav&#x61;script:alert('xss-entity'))",
    "![image](javascript:alert('xss-imgmd'))",
    '<p onclick="alert(\'xss-p\')">paragraph handler</p>',
    f"attr break {ATTR}",
    UNICODE,
    "long " + "N" * 6000,
])
NOTE_KEPT = ["Note with", "bold", "kept", "md link", "mixed case", "paragraph handler", RTL, ZWJ, COMBINING,
             EMOJI, "N" * 6000]


def _title(prefix: str) -> str:
    text = f"{prefix} {IMG} {ATTR} {UNICODE} "
    return text + "W" * (300 - len(text))  # the 300-character limit, one unbroken run at the end


# ---- notifications ------------------------------------------------------------------------
TEMPLATES = sorted((p.parent.name, p.stem) for p in render.TEMPLATES.glob("*/*.j2"))
LINE_BREAKS = re.compile(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _context(value: str) -> dict[str, Any]:
    """Every key any template uses, each string one a hostile value."""
    return {
        "incident": {"id": 7, "title": f"title {value}\nForged line", "kind": f"kind {value}",
                     "severity": "sev1", "status": "triggered", "opened_at": "2026-10-05T12:00:00Z",
                     "playbook": f"playbook {value}", "url": "https://crisis.example/api/v1/incidents/7",
                     "source": "alert", "details": f"1 firing · alert labels {value}\n- [firing] {value}"},
        "community": {"slug": "lantern", "name": f"community {value}"},
        "recipient": f"recipient {value}", "ack_url": "https://crisis.example/ack/t0k3n",
        "lockdown_url": "https://crisis.example/contain/t0k3n", "lockdown_hours": "2",
        "undo_lockdown_url": "https://crisis.example/contain/u0k3n",
        "actor": f"actor {value}", "note": f"note {value}", "update": f"update {value}",
        "level": 2, "round": 1, "due_at": "2026-10-12", "sections": [f"section {value}", "Timeline"],
        "previous_severity": f"sev2 {value}", "failed_pages": 2,
        "task": {"title": f"task {value}", "late_minutes": 5, "owner": f"owner {value}"},
        "case": {"id": 3, "category": "spam", "subject": f"message {value} by {value}", "late_minutes": 5,
                 "owner": f"owner {value}", "url": "https://crisis.example/c/lantern/queue"},
        "mtask": {"title": f"By hand: {value}", "instructions": f"Ban {value}\nthen note it", "late_minutes": 5,
                  "url": "https://crisis.example/c/lantern/queue#tasks"},
        # Members' announcements (crisis.publicstatus) and the liaison's reminder.
        "public": {"title": f"public {value}\nForged line"}, "phase": "investigating", "phase_label": "Investigating",
        "status_url": "https://crisis.example/status/lantern", "silent_minutes": 31, "every_minutes": 30,
        "page_url": "https://crisis.example/c/lantern/incidents/7", "fallback": True,
    }


@pytest.mark.parametrize(("event", "lang"), TEMPLATES)
def test_every_alert_template_renders_hostile_values_as_inert_plain_text(event: str, lang: str) -> None:
    assert len(TEMPLATES) >= 22  # every event in en and zh
    value = f"{MARKUP} {UNICODE} {CONTROL}"
    title, body = render.render(event, lang, _context(value))
    text = f"{title}\n{body}"
    assert not LINE_BREAKS.search(title), f"the title must be one line: {title!r}"
    assert "Forged line" in title or "Forged line" not in text  # a newline in a title cannot start a line
    assert not CONTROLS.search(text), f"control characters reached the message: {text!r}"
    # Plain text: markup stays as the characters people typed, not entities.
    assert "&lt;" not in text and "&quot;" not in text and "&#" not in text
    assert IMG in text and ATTR in text
    assert RTL in text and ZWJ in text and COMBINING in text and EMOJI in text
    assert "bellescred" in text.replace("[31m", "")  # the controls are dropped, the letters kept
    assert len(title) <= 500


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _inert_html(html: str, allowed: frozenset[str] = frozenset({"br", "p"})) -> str:
    """The text of `html`, after checking its only elements are line structure, without attributes."""
    parser = _Markup()
    parser.feed(html)
    parser.close()
    injected = [(tag, attrs) for tag, attrs in parser.tags if tag not in allowed or attrs]
    assert not injected, f"markup from a hostile value became elements: {injected}\n{html[:2000]}"
    return "".join(parser.text).replace("\xa0", " ")


def _flat(text: str) -> str:
    return " ".join(text.split())


# Channel kinds: plain JSON (data, taken verbatim), services that take HTML or Markdown
# (json:// told to convert, as Matrix, Slack or Discord do), and email, plain and HTML.
KINDS = {"json": "", "html": "?format=html", "markdown": "?format=markdown"}


def test_notifications_reach_every_channel_kind_neutralized(app: Flask, client: FlaskClient, session: Session,
                                                             clock: FixedClock,
                                                             receivers: tuple[HttpReceiver, SmtpReceiver]) -> None:
    http, smtp = receivers
    playbooks.sync(session, clock=clock)
    community, _ = communities.create_community(session, "lantern", name=f"Lantern {MARKUP} {UNICODE}", clock=clock)
    user, _ = communities.create_user(session, "ada@example.test", password=PASSWORD, clock=clock,
                                      display_name=f"Ada {IMG} {RTL} {CONTROL}")
    communities.grant_role(session, user, community, "admin")
    now = clock.now()
    for purpose in ("log", "stakeholders"):
        for kind, suffix in KINDS.items():
            session.add(Channel(community_id=community.id, name=f"{purpose}-{kind}", purpose=purpose,
                                url=http.url(f"{purpose}-{kind}") + suffix, created_at=now))
        session.add(Channel(community_id=community.id, name=f"{purpose}-mail", purpose=purpose,
                            url=smtp.url(f"{purpose}-mail@example.test"), created_at=now))
        session.add(Channel(community_id=community.id, name=f"{purpose}-mailhtml", purpose=purpose,
                            url=smtp.url(f"{purpose}-mailhtml@example.test") + "&format=html", created_at=now))
    session.commit()
    token = communities.issue_personal_token(session, user, clock=clock).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    title = _title("Opened")
    title_with_control = title[:250] + CONTROL
    opened = client.post("/api/v1/incidents", headers=headers, json={
        "community": "lantern", "kind": "raid", "severity": "sev1", "title": title_with_control,
        "description": MARKUP})
    assert opened.status_code == 201, opened.get_json()
    incident_id = opened.get_json()["id"]
    steps = [
        client.post(f"/api/v1/incidents/{incident_id}/acknowledge", headers=headers,
                    json={"note": f"ack {MARKUP} {UNICODE}"}),
        client.post(f"/api/v1/incidents/{incident_id}/updates", headers=headers,
                    json={"text": f"update {MARKUP}\n[md link](javascript:alert('xss-md')) **bold** {UNICODE}"}),
        client.post(f"/api/v1/incidents/{incident_id}/resolve", headers=headers, json={"note": f"done {IFRAME}"}),
    ]
    assert [r.status_code for r in steps] == [200, 201, 200], [r.get_json() for r in steps]
    expected_title = _flat(CONTROLS.sub("", title_with_control))

    # JSON: data, not markup; the text arrives exactly as rendered.
    for purpose in ("log", "stakeholders"):
        got = http.to(f"{purpose}-json")
        assert got, f"nothing reached {purpose}-json"
        for message in got:
            assert not CONTROLS.search(message.body["title"] + message.body["message"])
    [opened_json] = [m for m in http.to("log-json") if m.body["title"].startswith("[SEV1]")]
    assert expected_title[:200] in opened_json.body["title"]  # titles are cut at 500 characters
    assert IMG in opened_json.body["title"] and f"Lantern {MARKUP}" in opened_json.body["message"]
    [update_json] = [m for m in http.to("stakeholders-json") if m.body["message"].startswith("update ")]
    assert "[md link](javascript:alert('xss-md')) **bold**" in update_json.body["message"]

    # HTML services: escaped, line breaks as <br/>, the text intact once unescaped.
    for purpose in ("log", "stakeholders"):
        bodies = [_inert_html(m.body["message"]) for m in http.to(f"{purpose}-html")]
        assert bodies, f"nothing reached {purpose}-html"
        joined = _flat("\n".join(bodies))
        assert _flat(f"Lantern {MARKUP}") in joined
    assert any(_flat(f"ack {MARKUP}") in _flat(_inert_html(m.body["message"])) for m in http.to("log-html"))

    # Markdown services: rendered as Markdown the way such services do, nothing becomes a link,
    # an image, emphasis or raw HTML.
    for purpose in ("log", "stakeholders"):
        got = http.to(f"{purpose}-markdown")
        assert got, f"nothing reached {purpose}-markdown"
        for message in got:
            _inert_html(markdown.markdown(message.body["message"]))
    updates = [m for m in http.to("stakeholders-markdown") if "update" in m.body["message"]]
    assert updates and "bold" in _inert_html(markdown.markdown(updates[0].body["message"]))

    # Email: plain text stays plain (text/plain only, or an HTML part that is escaped).
    wait_for(lambda: len(smtp.messages) >= 8, timeout=10, interval=0.05, message="the emails")
    for mail in smtp.messages:
        msg = email.message_from_string(mail["data"], policy=email.policy.default)
        assert not CONTROLS.search(str(msg["subject"]))
        html_parts = [p for p in msg.walk() if p.get_content_type() == "text/html"]
        plain_parts = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
        if mail["to"][0].endswith("-mailhtml@example.test"):
            assert html_parts, "format=html asks for an HTML email"
        for part in html_parts:
            text = _inert_html(part.get_content())
            assert "Lantern" in text or "update" in text
        for part in plain_parts:
            assert "&lt;" not in part.get_content()
    plain_opened = [m for m in smtp.messages if m["to"] == ["log-mail@example.test"]
                    and "[SEV1]" in str(email.message_from_string(m["data"], policy=email.policy.default)["subject"])]
    assert plain_opened
    opened_mail = email.message_from_string(plain_opened[0]["data"], policy=email.policy.default)
    assert IMG in _flat(str(opened_mail["subject"]))
    body = opened_mail.get_body(preferencelist=("plain",))
    assert body is not None and f"Lantern {MARKUP}" in body.get_content()
    html_opened = [m for m in smtp.messages if m["to"] == ["log-mailhtml@example.test"]]
    html_text = _flat(_inert_html(email.message_from_string(html_opened[0]["data"], policy=email.policy.default)
                                  .get_body(preferencelist=("html",)).get_content()))
    assert _flat(f"Lantern {MARKUP}") in html_text


# ---- pages, in a real browser --------------------------------------------------------------
SLUG = "lantern"
RAID_SAMPLE = f'{SCRIPT} <img src=x id=pwn-sample onerror=alert("xss-sample")> {EMOJI}'


def _account(n: int) -> str:
    return f'<img src=x id=pwn-acct onerror=alert("xss-acct")>{RTL}{n}'


@dataclass
class HostileSite:
    url: str
    app: Flask
    token: str  # ada's personal token (admin)
    email: str
    manual_id: int = 0


def _api(site: HostileSite, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(f"{site.url}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"Bearer {site.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _hostile_raid(ingest_token: str, url: str) -> None:
    """Real traffic through the ingest API; the raiders' ids, names and posts are hostile."""
    from crisis.demo import post

    history, raid = raid_events(SLUG, history_minutes=90)
    raiders: dict[str, str] = {}

    def swap(actor_id: str) -> str:
        if actor_id.startswith("raid"):
            return raiders.setdefault(actor_id, _account(len(raiders) + 1))
        return actor_id

    for ev in raid:
        ev["actor"] = {**ev["actor"], "id": swap(ev["actor"]["id"])}
        if ev["actor"]["id"] in raiders.values():
            ev["actor"]["name"] = f"{ATTR} {ZWJ}"
            if ev.get("content"):
                ev["content"] = f"{ev['content']} {RAID_SAMPLE}"
        if "target" in ev:
            ev["target"] = {**ev["target"], "user_id": swap(ev["target"]["user_id"])}
    events = history + raid
    for i in range(0, len(events), 1000):
        post(f"{url}/api/v1/communities/{SLUG}/events", ingest_token, events[i:i + 1000])


@pytest.fixture
def hostile_site(live_config: Config) -> Iterator[HostileSite]:
    app = create_app(live_config, clock=SystemClock())
    rt = app.extensions["crisis"]
    clock = SystemClock()
    with session_scope(rt.sessions) as session:
        playbooks.sync(session, clock=clock)
        community, issued = communities.create_community(session, SLUG, name=f"Lantern {MARKUP} {UNICODE}",
                                                         clock=clock)
        ada, _ = communities.create_user(session, "ada@example.test", password=PASSWORD, clock=clock,
                                         display_name=f"Ada {IMG} {RTL}")
        communities.grant_role(session, ada, community, "admin")
        ingest_token = issued.token
        token = communities.issue_personal_token(session, ada, clock=clock).token
    with LiveServer(app) as server:
        site = HostileSite(server.url, app, token, "ada@example.test")
        # A playbook version with a hostile title and step (through the edit API), pinned by what opens next.
        spec = _api(site, "GET", "/api/v1/playbooks/raid/versions/2")["spec"]
        spec["title"] = f"Raid {MARKUP} {UNICODE}"
        spec["steps"][0]["title"] = f"Step {IMG} {ATTR}"
        spec["steps"][0]["instructions"] = NOTE
        _api(site, "POST", "/api/v1/playbooks/raid/versions", {"spec": spec, "comment": f"edit {SCRIPT} {RTL}"})
        manual = _api(site, "POST", "/api/v1/incidents", {
            "community": SLUG, "kind": "raid", "severity": "sev2", "title": _title("Manual"),
            "description": f"{MARKUP} {CONTROL}"})
        site.manual_id = manual["id"]
        _api(site, "POST", f"/api/v1/incidents/{site.manual_id}/notes", {"text": NOTE})
        _api(site, "POST", f"/api/v1/incidents/{site.manual_id}/updates",
             {"text": f"update {MARKUP}\n\n[md link](javascript:alert('xss-md')) {UNICODE}"})
        _api(site, "POST", f"/api/v1/incidents/{site.manual_id}/acknowledge", {"note": f"ack {IFRAME}"})
        _api(site, "POST", f"/api/v1/incidents/{site.manual_id}/resolve", {"note": f"resolved {SVG} {CONTROL}"})
        _hostile_raid(ingest_token, server.url)
        yield site
    runtime.reset()


DOM_PROBLEMS = """() => {
  const bad = [];
  const urlAttrs = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data'];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.startsWith('on')) bad.push(`${el.tagName} has handler ${a.name}=${a.value}`);
      if (a.name.includes('pwn')) bad.push(`${el.tagName} has injected attribute ${a.name}`);
      if (urlAttrs.includes(a.name) && /^\\s*(javascript|vbscript):/i.test(a.value))
        bad.push(`${el.tagName} ${a.name}=${a.value}`);
      // The page's own favicon is href="data:,"; a data: URL anywhere else was injected.
      if (urlAttrs.includes(a.name) && el.tagName !== 'LINK' && /^\\s*data:/i.test(a.value))
        bad.push(`${el.tagName} ${a.name}=${a.value}`);
    }
    if (el.id && el.id.startsWith('pwn')) bad.push(`injected element ${el.tagName}#${el.id}`);
    if (['IFRAME', 'OBJECT', 'EMBED'].includes(el.tagName)) bad.push(`injected ${el.tagName}`);
  }
  for (const s of document.scripts) {
    if (!s.src || s.textContent.includes('xss')) bad.push('inline script: ' + s.textContent.slice(0, 80));
  }
  for (const img of document.images) bad.push('injected img ' + img.outerHTML.slice(0, 80));
  return bad;
}"""


def _text(page: Any) -> str:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    return str(page.evaluate("document.body.innerText"))


def _visit(page: Any, url: str, dialogs: list[str]) -> str:
    resp = page.goto(url)
    assert resp is not None and resp.status == 200, f"{url}: {resp.status if resp else 'no response'}"
    page.wait_for_load_state("networkidle")
    problems = page.evaluate(DOM_PROBLEMS)
    assert not problems, f"{url}:\n" + "\n".join(problems)
    # Move over every element that shows text: an injected onmouseover would fire now.
    for box in page.locator("h1, td, li, dd, code, .md").all()[:80]:
        if box.is_visible():
            box.hover(timeout=2000, force=True)
    assert not dialogs, f"{url}: a dialog fired: {dialogs}"
    return _text(page)


def _seen(text: str, value: str) -> bool:
    return _flat(value) in _flat(text)


@pytest.mark.browser
def test_pages_show_hostile_strings_as_text(hostile_site: HostileSite, new_page: Any, watch: PageWatch) -> None:
    site = hostile_site
    page = new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, site.url, site.email)
    community = f"Lantern {MARKUP} {UNICODE}"
    manual_title = _title("Manual")

    with site.app.extensions["crisis"].sessions() as s:
        raid_id = wait_for(lambda: s.scalar(select(Incident.id).where(Incident.source != "manual")), timeout=60,
                           interval=0.5, message="the raid incident")
        assert s.scalar(select(Community.name)) == community

    home = _visit(page, f"{site.url}/", dialogs)
    assert _seen(home, community)

    listing = _visit(page, f"{site.url}/incidents", dialogs)
    assert _seen(listing, manual_title[:120])

    _visit(page, f"{site.url}/c/{SLUG}", dialogs)
    page.wait_for_timeout(1500)  # the community page refreshes its incident list from JSON
    assert not page.evaluate(DOM_PROBLEMS) and not dialogs

    manual = _visit(page, f"{site.url}/c/{SLUG}/incidents/{site.manual_id}", dialogs)
    for value in (manual_title, f"Ada {IMG} {RTL}", f"Step {IMG} {ATTR}", "update", MARKUP):
        assert _seen(manual, value), f"{value!r} is not shown as text"
    for value in NOTE_KEPT:
        assert _seen(manual, value), f"{value[:60]!r} from the note is not shown"
    assert _seen(manual, "resolved") and _seen(manual, f"{RTL}")
    # The links of the note and instructions survive as text without an href.
    for name in ("md link", "mixed case", "entity"):
        for link in page.locator(".md a", has_text=name).all():
            assert link.get_attribute("href") in (None, ""), link.evaluate("a => a.outerHTML")
    page.wait_for_timeout(3500)  # one live refresh of the timeline and header: still inert
    assert not page.evaluate(DOM_PROBLEMS) and not dialogs

    raid = _visit(page, f"{site.url}/c/{SLUG}/incidents/{raid_id}", dialogs)
    assert _seen(raid, _account(1)) and _seen(raid, RAID_SAMPLE), "hostile accounts and samples shown as text"

    postmortem = _visit(page, f"{site.url}/c/{SLUG}/incidents/{site.manual_id}/postmortem", dialogs)
    assert "Manual" in postmortem

    for path in ("/playbooks", "/playbooks/raid", "/playbooks/raid/diff?a=2&b=3", "/playbooks/raid/edit",
                 "/dashboard", f"/c/{SLUG}/health", f"/c/{SLUG}/oncall", f"/c/{SLUG}/settings"):
        text = _visit(page, f"{site.url}{path}", dialogs)
        if path == "/playbooks/raid":
            assert _seen(text, f"Raid {MARKUP} {UNICODE}") and _seen(text, f"Step {IMG} {ATTR}")
            assert _seen(text, f"edit {SCRIPT} {RTL}")
        if path.endswith("/edit"):
            source = page.locator("textarea").first.input_value()
            assert "xss-img" in source  # the YAML editor holds the text, as text
    assert not dialogs
    assert not watch.problems, watch.problems
