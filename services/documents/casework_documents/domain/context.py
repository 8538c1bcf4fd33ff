"""What a template is rendered with: the client's card (read from clients), the
organisation, centre and worker, the document and the contract's terms. Every field the
template prints must have a value; the missing ones are listed together so the worker
completes the card once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from casework_common.errors import FailedPrecondition, NotFound
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
class PlannedAction:
    """An action or service of a goal, as the plan in effect says it (plans owns it)."""

    description: str
    provider: str
    provider_name: str
    frequency: str
    deadline: str

    @property
    def text(self) -> str:
        """One line a table cell can hold: what, who, how often, by when."""
        who = " ".join(p for p in (self.provider, self.provider_name) if p)
        parts = [p for p in (who, self.frequency) if p]
        if self.deadline:
            parts.append(f"by {self.deadline}")
        return f"{self.description} ({', '.join(parts)})" if parts else self.description


@dataclass(frozen=True)
class PlannedGoal:
    """A SMART goal of the plan in effect."""

    description: str
    target_date: str
    actions: tuple[PlannedAction, ...] = ()

    def row(self) -> dict[str, str]:
        return {
            "description": self.description,
            "deadline": self.target_date,
            "target_date": self.target_date,
            "actions": "; ".join(a.text for a in self.actions),
        }


@dataclass(frozen=True)
class ClientPlan:
    """One of the client's plans as plans answers it: `goals` is None while no version
    of it is in effect (a draft, or closed)."""

    plan_id: str
    centre_ids: tuple[str, ...]
    version: int
    goals: tuple[PlannedGoal, ...] | None

    def visible_to(self, centres: Iterable[str]) -> bool:
        return bool(set(self.centre_ids) & set(centres))


def needs_goals(placeholders: Iterable[str]) -> bool:
    """True when a template prints the plan's goals."""
    return any(p == "goals" or p.startswith("goals[]") for p in placeholders)


def plan_in_effect(
    plans: Iterable[ClientPlan], centres: Iterable[str], client_id: str, plan_id: str = ""
) -> ClientPlan:
    """The plan whose goals a document prints: the one named, else the client's plan in
    effect; only plans of centres the caller serves count (another centre's plan is
    not found, exactly as one that does not exist)."""
    visible = [p for p in plans if p.visible_to(centres)]
    if plan_id:
        named = next((p for p in visible if p.plan_id == plan_id), None)
        if named is None:
            raise NotFound(f"plan {plan_id} not found")
        if named.goals is None:
            raise FailedPrecondition(
                f"the template prints goals, and plan {plan_id} has no version in effect; "
                "have it signed by the client and the worker, then generate again",
                field="plan_id",
            )
        return named
    effective = [p for p in visible if p.goals is not None]
    if not effective:
        raise FailedPrecondition(
            f"the template prints goals, and client {client_id} has no plan in effect; "
            "have the plan signed by the client and the worker, then generate again",
            field="goals",
        )
    return effective[0]


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
    goals: Iterable[PlannedGoal] = (),
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
        "goals": [g.row() for g in goals],
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
