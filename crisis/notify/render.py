"""Message text from alerts/templates/<event>/<lang>.j2: one file, a title and a body block.

Plain text, not HTML: autoescape is off and StrictUndefined makes a typo in a template
fail loudly in tests instead of sending a message with a hole in it. The transport tells
apprise the text is plain, so destinations that interpret markup get it escaped there
(crisis.notify.transport). Control characters are dropped here: values such as incident
titles come from community members, and an ESC sequence or a NUL is invisible in every
channel, garbles terminals and log viewers, and XML-based services refuse the message."""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from crisis.notify.routing import ALERTS_DIR

LANGUAGES = ("en", "zh")
TEMPLATES = ALERTS_DIR / "templates"
# C0 controls but tab (line breaks are split off before this applies), DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def language(locale: str | None) -> str:
    """'zh', 'zh-CN', 'zh_Hans' → 'zh'; anything we have no templates for → 'en'."""
    base = (locale or "en").replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else "en"


@cache
def environment(directory: Path = TEMPLATES) -> Environment:
    return Environment(loader=FileSystemLoader(str(directory)), undefined=StrictUndefined, autoescape=False,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


def _clean(text: str) -> str:
    # A non-breaking space pushes SMS gateways into UCS-2 and halves the message length.
    lines = text.replace("\xa0", " ").strip().splitlines()
    return "\n".join(_CONTROL.sub("", line).rstrip() for line in lines).strip()


def render(event: str, lang: str, context: dict[str, Any], *, directory: Path = TEMPLATES) -> tuple[str, str]:
    env = environment(directory)
    try:
        template = env.get_template(f"{event}/{lang}.j2")
    except TemplateNotFound:
        template = env.get_template(f"{event}/en.j2")
    ctx = template.new_context(context)
    title = _clean("".join(template.blocks["title"](ctx)))
    body = _clean("".join(template.blocks["body"](template.new_context(context))))
    return " ".join(title.split())[:500], body
