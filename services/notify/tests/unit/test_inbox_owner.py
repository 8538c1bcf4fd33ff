"""Specification of whose inbox a caller reads: only a worker has one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casework_common.auth import Principal
from casework_common.config import load_settings
from casework_common.errors import PermissionDenied
from casework_common.unit_of_work import UnitOfWork
from casework_notify.bootstrap import Notify


def create_principal(**overrides: object) -> Principal:
    fields: dict[str, object] = {
        "organisation": "org-demo",
        "subject": "w-anna",
        "kind": "worker",
        "centres": frozenset({"ctr-north-town"}),
        "roles": frozenset({"case_worker"}),
        "scopes": frozenset(),
    }
    fields.update(overrides)
    return Principal(**fields)  # type: ignore[arg-type]


NOTIFY = Notify(load_settings("notify", {}), {}, lambda: datetime(2026, 1, 1, tzinfo=UTC))


def test_a_worker_reads_their_own_inbox() -> None:
    inbox = NOTIFY.inbox_of(UnitOfWork(create_principal()))

    assert (inbox._organisation, inbox._worker_id) == ("org-demo", "w-anna")


@pytest.mark.parametrize("kind", ["partner", "service"])
def test_a_partner_or_service_named_like_a_worker_has_no_inbox(kind: str) -> None:
    with pytest.raises(PermissionDenied, match=f"a {kind} has no inbox"):
        NOTIFY.inbox_of(
            UnitOfWork(create_principal(kind=kind, roles=frozenset(), scopes=frozenset()))
        )
