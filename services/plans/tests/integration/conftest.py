"""The plans processes every integration module of plans talks to: one suite a module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from casework.plans.v1 import plans_pb2_grpc
from casework_dev.devstack import Suite
from casework_dev.testing.helpers import stub
from casework_dev.testing.plans import Captured


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    yield suite_factory(("plans",))


@pytest.fixture(scope="module")
def plans(suite: Suite) -> Any:
    return stub(suite, "plans", plans_pb2_grpc.PlansServiceStub)


@pytest.fixture(scope="module")
def captured(suite: Suite) -> Iterator[Captured]:
    capture = Captured(suite.env["AMQP_URI"])
    yield capture
    capture.close()
