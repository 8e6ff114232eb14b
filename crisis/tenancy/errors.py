"""The refusals every tenancy service raises (re-exported by crisis.tenancy.communities)."""
from __future__ import annotations


class ServiceError(ValueError):
    """A request the service refuses; the message says why."""


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass
