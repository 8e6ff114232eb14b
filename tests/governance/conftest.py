"""The community and staff the audit tests act as: Lantern with an admin (Ada) and a manager (Meg)."""
from __future__ import annotations

import pytest

from tests.conftest import Factory, Staff, Tenant
from tests.web.conftest import PASSWORD


@pytest.fixture
def lantern(factory: Factory) -> Tenant:
    return factory.community("lantern")


@pytest.fixture
def ada(factory: Factory, lantern: Tenant) -> Staff:
    return factory.staff("ada@example.test", lantern.community, "admin", password=PASSWORD)


@pytest.fixture
def meg(factory: Factory, lantern: Tenant) -> Staff:
    return factory.staff("meg@example.test", lantern.community, "manager", password=PASSWORD)
