"""Background work on rq: job names, entry points, doorbells, the after-commit ringer,
the sweeper and the worker process.

Jobs queued before the package was re-filed name `crisis.jobs.<function>`; rq resolves
such a path by importing this package and asking for the attribute, so the module-level
`__getattr__` below hands it the entry point the name has today (crisis.jobs.names.LEGACY)."""
from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    from crisis.jobs.names import LEGACY

    job = LEGACY.get(name)
    if job is None:
        raise AttributeError(f"module 'crisis.jobs' has no attribute {name!r}")
    module, _, function = job.path.rpartition(".")
    return getattr(importlib.import_module(module), function)
