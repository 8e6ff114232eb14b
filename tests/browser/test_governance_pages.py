"""The token and audit pages in Chromium, at desktop and phone widths and in Chinese: a
token made on the page works against the API within its scope and stops when revoked, and
the audit log shows it, filters, exports, and is closed to a manager."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from crisis.clock import SystemClock
from crisis.db import session_scope
from crisis.tenancy import communities
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, Site, log_in

pytestmark = pytest.mark.browser
ADMIN = "ada@example.test"


@pytest.fixture
def admin_site(site: Site) -> Site:
    with session_scope(site.app.extensions["crisis"].sessions) as session:
        user, _ = communities.create_user(session, ADMIN, password=PASSWORD, clock=SystemClock(), display_name="Ada")
        communities.grant_role(session, user, communities.get_community(session, site.slug), "admin")
    site.users["admin"] = ADMIN
    return site


def _api(site: Site, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{site.url}{path}", data=json.dumps(body).encode() if body else None,
                                     method="POST" if body else "GET",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_token_made_on_the_page_works_within_its_scope_until_revoked(admin_site: Site, new_page: Any,
                                                                       viewport: dict[str, int]) -> None:
    site = admin_site
    page = new_page(viewport=viewport)
    log_in(page, site.url, ADMIN)
    page.click("a[href='/account/tokens']")
    page.fill("#new-token input[name=name]", "dashboard reader")
    assert page.is_checked("input[name=scopes][value='incidents:read']")
    page.select_option("#expires", "30d")
    page.click("#new-token button[type=submit]")
    secret = page.locator("#issued-secret").inner_text().strip()
    assert secret.startswith("crp_")
    assert _fits(page), "the page must not scroll sideways"

    assert _api(site, "/api/v1/incidents", secret)[0] == 200
    status, body = _api(site, "/api/v1/incidents", secret, {"community": site.slug, "kind": "raid",
                                                            "severity": "sev3", "title": "by a reader"})
    assert status == 403 and body["scope"] == "incidents:write"

    page.goto(f"{site.url}/account/tokens")
    row = page.locator("tr.token-row", has_text="dashboard reader")
    assert secret not in page.content(), "the secret is shown once"
    assert "never used" not in row.inner_text() and "incidents:read" in row.inner_text()
    row.locator("button[data-revoke]").click()
    page.locator("tr.token-revoked", has_text="dashboard reader").wait_for()
    assert _api(site, "/api/v1/incidents", secret)[0] == 401
    assert _fits(page)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_audit_log_shows_filters_and_exports_what_happened(admin_site: Site, new_page: Any,
                                                               viewport: dict[str, int]) -> None:
    site = admin_site
    page = new_page(viewport=viewport)
    log_in(page, site.url, ADMIN)
    page.goto(f"{site.url}/c/{site.slug}/tokens")
    page.fill("#new-token input[name=name]", "bridge")
    page.click("#new-token button[type=submit]")
    page.locator("#issued-secret").wait_for()

    page.goto(f"{site.url}/c/{site.slug}")
    page.click(f"a[href='/c/{site.slug}/audit']")
    actions = page.locator("tr.audit-row").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert {"login", "token.create", "role.grant"} <= set(actions)
    page.select_option("#audit-filters select[name=action]", "token.create")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url("**action=token.create**")
    rows = page.locator("tr.audit-row")
    assert rows.count() >= 2 and set(rows.evaluate_all("rows => rows.map(r => r.dataset.action)")) == {"token.create"}
    assert "bridge" in page.locator("#audit-rows").inner_text()
    assert _fits(page), "the log must not scroll sideways"
    with page.expect_download() as download:
        page.click("#audit-export a:has-text('CSV')")
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("id,at,community_id,actor") and "token.create" in text and "login," not in text

    page.click("button[data-locale=zh_Hans]")
    page.wait_for_load_state()
    assert page.locator("h1").first.inner_text() == "审计日志"
    assert "已创建令牌" in page.locator("#audit-rows").inner_text()


def test_a_manager_finds_no_way_into_the_audit_log(admin_site: Site, new_page: Any) -> None:
    site = admin_site
    page = new_page()
    log_in(page, site.url, site.users["manager"])
    page.goto(f"{site.url}/c/{site.slug}")
    assert page.locator(f"a[href='/c/{site.slug}/audit']").count() == 0
    refused = page.goto(f"{site.url}/c/{site.slug}/audit")
    assert refused is not None and refused.status == 403
    assert page.goto(f"{site.url}/c/{site.slug}/tokens").status == 403  # type: ignore[union-attr]
