"""Markdown for notes and postmortems: rendered, then sanitized with nh3 (an allowlist)."""
from __future__ import annotations

import markdown as md
import nh3
from markupsafe import Markup

TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2", "h3", "h4",
        "hr", "table", "thead", "tbody", "tr", "th", "td", "del"}
ATTRIBUTES = {"a": {"href", "title"}}


def render(text: str | None) -> Markup:
    html = md.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                      link_rel="noopener noreferrer nofollow")
    return Markup(clean)  # noqa: S704 -- nh3 output is an allowlist of tags and attributes
