"""Languages: the committed catalogs are compiled and complete; the choice follows the user."""
from __future__ import annotations

from io import BytesIO

from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from crisis.web.i18n import TRANSLATIONS
from tests.web.conftest import Team, as_user, csrf


def test_it_ships_a_compiled_catalog_matching_the_po_file() -> None:
    po_path = TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    catalog = read_po(po_path.open("rb"), locale="zh_Hans")
    untranslated = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else m.string[0])]
    assert not untranslated, f"untranslated: {untranslated[:5]}"
    expected = BytesIO()
    write_mo(expected, catalog)
    shipped = read_mo((po_path.with_suffix(".mo")).open("rb"))
    compiled = read_mo(BytesIO(expected.getvalue()))
    def table(catalog_: object) -> dict[str, str]:
        return {str(m.id): str(m.string) for m in catalog_ if m.id}  # type: ignore[attr-defined]

    assert table(shipped) == table(compiled), \
        "messages.mo is stale: run .venv/bin/pybabel compile -d crisis/translations"


def test_it_follows_accept_language(client: FlaskClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert "<h1>登录</h1>" in html and 'lang="zh-Hans"' in html


def test_it_remembers_the_users_choice(client: FlaskClient, team: Team) -> None:
    as_user(client, team.moderator)
    client.post("/locale", data={"locale": "zh_Hans", "next": "/", "_csrf": csrf(client, "/")})
    assert "您的社区" in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
