"""crisis: incident and crisis response for online communities.

Importing the package does nothing; `create_app(config)` builds the web app.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from crisis.config import Config


def create_app(config: Config | None = None, **kwargs: Any) -> Flask:
    from crisis.app import create_app as _create

    return _create(config, **kwargs)
