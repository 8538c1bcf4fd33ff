"""What a template is rendered with: the client's card (read from clients), the
organisation, centre and worker, the document and the contract's terms. Every field the
template prints must have a value; the missing ones are listed together so the worker
completes the card once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from casework_common.errors import FailedPrecondition
from casework_documents.domain.documents import ContractTerms
from casework_documents.domain.templates import missing_fields

# Printed fields that may be empty: an open-ended contract has no last day, a document
# is not signed when it is generated, a decision's reason may be blank.
MAY_BE_EMPTY = frozenset(
    {"contract.valid_until", "contract.signed_on", "decision.reason", "decision.granted"}
)


@dataclass(frozen=True)
class Card:
    """The card as documents needs it (clients owns it)."""

    client_id: str
    given_name: str
    family_name: str
    date_of_birth: str
    address: str
    phone: str
    email: str
    client_type: str
    centre_ids: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)

    def visible_to(self, centres: Iterable[str]) -> bool:
        return bool(set(self.centre_ids) & set(centres))


@dataclass(frozen=True)
class Party:
    id: str
    name: str


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: str


def render_context(
    card: Card,
    *,
    organisation: Party,
    centre: Party,
    worker: Party,
    document_id: str,
    created_on: date,
    terms: ContractTerms | None,
    signed_on: date | None = None,
    decision: Decision | None = None,
    goals: Iterable[Mapping[str, str]] = (),
    signing: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "client": {
            "client_id": card.client_id,
            "given_name": card.given_name,
            "family_name": card.family_name,
            "full_name": card.full_name,
            "date_of_birth": card.date_of_birth,
            "address": card.address,
            "phone": card.phone,
            "email": card.email,
            "client_type": card.client_type,
        },
        "organisation": {"organisation_id": organisation.id, "name": organisation.name},
        "centre": {"centre_id": centre.id, "name": centre.name},
        "worker": {"worker_id": worker.id, "name": worker.name},
        "contract": {
            "contract_id": document_id,
            "signed_on": signed_on.isoformat() if signed_on else "",
            "valid_from": terms.valid_from.isoformat() if terms else "",
            "valid_until": terms.valid_until.isoformat() if terms and terms.valid_until else "",
        },
        "document": {"document_id": document_id, "created_on": created_on.isoformat()},
        "decision": {
            "granted": decision.granted if decision else False,
            "reason": decision.reason if decision else "",
        },
        "goals": [dict(g) for g in goals],
        "today": created_on.isoformat(),
        "client_signature": "",
        "worker_signature": "",
        "signing": dict(signing or {"method": "", "signed_at": ""}),
    }


def require_complete(placeholders: Iterable[str], context: Mapping[str, Any]) -> None:
    """FailedPrecondition naming every printed field without a value."""
    missing = [p for p in missing_fields(placeholders, context) if p not in MAY_BE_EMPTY]
    if missing:
        raise FailedPrecondition(
            "the template prints fields the card or organisation has no value for: "
            + ", ".join(missing)
            + "; complete them and generate again",
            field="client_id",
        )


def signing_facts(method: str, at: datetime) -> dict[str, str]:
    return {"method": method, "signed_at": at.isoformat()}
