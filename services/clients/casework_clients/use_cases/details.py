"""The card's details: identity, contacts, responsible workers, consents, notes and contacts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
    SharingRequestRepository,
)
from casework_clients.domain import details, proposals
from casework_clients.domain.cards import (
    ClientCard,
)
from casework_clients.domain.commands import required
from casework_clients.domain.identity import other_card_key, person_key
from casework_clients.domain.records import ConsentPurpose, ConsentRecord, ContactChannel
from casework_clients.use_cases._shared import (
    _require,
    live_card,
    save_change,
)
from casework_clients.use_cases.sharing import request_sharing
from casework_common.errors import (
    Conflict,
    FailedPrecondition,
)
from casework_common.organisation import Organisation
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork


def _editable(repository: ClientRepository, client_id: str) -> ClientCard:
    required("client_id", client_id)
    return live_card(repository, client_id)


def update_client(
    client_id: str,
    changes: details.CardChanges,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    org: Organisation,
    sharing: SharingRequestRepository | None = None,
) -> ClientCard:
    """Change the card's names, date of birth, contacts, address, centres, client type
    or problems (``clients.client.updated.v1`` names the changed details, not their
    values). A change to no effect saves nothing."""
    principal, now = uow.principal, uow.now
    card = _editable(repository, client_id)
    updated, changed = details.update_card(
        card, changes, org, principal.centres, principal.subject, now
    )
    if not changed:
        return card
    elsewhere: ClientCard | None = None
    if updated.identity_key == person_key(card.identity_key):
        # Same person as before (only other details changed): the stored key stays.
        updated = replace(updated, identity_key=card.identity_key)
    else:
        holder = repository.holder_of(updated.identity_key)
        if holder is not None and holder.client_id != card.client_id:
            if repository.sees(holder.client_id):
                field = next(
                    f for f in changed if f in ("family_name", "given_name", "date_of_birth")
                )
                raise FailedPrecondition(
                    f"client {holder.client_id} of your centres has these names and date of "
                    "birth: merge the two cards instead",
                    field=f"changes.{field}",
                )
            # A card of a centre the caller does not serve: answered as if there were
            # none; this card stands apart under its own key, flagged for that
            # centre's manager, who gets a sharing request.
            elsewhere = holder
            updated = replace(
                updated,
                identity_key=other_card_key(updated.identity_key, card.client_id),
                duplicate_of=holder.client_id,
            )
        else:
            updated = replace(updated, duplicate_of="")
    try:
        saved = save_change(
            card,
            updated,
            events_pb2.ClientUpdated,
            {
                "changed_fields": list(changed),
                "region_id": updated.region_id,
                "centre_ids": list(updated.centre_ids),
                "client_type": updated.client_type,
                "problem_types": list(updated.problem_types),
            },
            "update",
            uow,
            repository,
        )
    except DuplicateAggregate:
        # Another card took these names a moment ago: try again, and the answer says
        # what the caller may know of it.
        raise Conflict("the card's names changed meanwhile elsewhere; try again") from None
    if elsewhere is not None and sharing is not None:
        request_sharing(
            elsewhere, saved, "update", principal, sharing, repository,
            now=now, trace=uow.trace.carrier, trace_id=uow.trace.trace_id, new_id=uow.new_id,
        )  # fmt: skip
    return saved


def assign_responsible_worker(
    client_id: str,
    worker_id: str,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    org: Organisation,
) -> ClientCard:
    """Make a worker responsible for the client (already responsible: no change)."""
    principal, now = uow.principal, uow.now
    card = _editable(repository, client_id)
    updated, assigned = details.assign_worker(card, worker_id, org, principal.subject, now)
    if not assigned:
        return card
    return save_change(
        card,
        updated,
        events_pb2.ClientResponsibleWorkerAssigned,
        {"worker_id": worker_id, "assigned_by": principal.subject,
         "centre_ids": list(card.centre_ids)},
        "assign-worker",
        uow,
        repository,
    )  # fmt: skip


def unassign_responsible_worker(
    client_id: str,
    worker_id: str,
    reason: str,
    uow: UnitOfWork,
    repository: ClientRepository,
) -> ClientCard:
    principal, now = uow.principal, uow.now
    card = _editable(repository, client_id)
    updated = details.unassign_worker(card, worker_id, reason, principal.subject, now)
    return save_change(
        card,
        updated,
        events_pb2.ClientResponsibleWorkerUnassigned,
        {"worker_id": worker_id, "unassigned_by": principal.subject},
        "unassign-worker",
        uow,
        repository,
    )


def _consent_payload(record: ConsentRecord) -> dict[str, object]:
    return {
        "consent_id": record.consent_id,
        "purpose": record.purpose.value,
        "partner": record.partner,
        "on": record.on.isoformat(),
        "recorded_by": record.recorded_by,
        "document_ref": record.document_ref,
    }


def record_consent(
    client_id: str,
    purpose: ConsentPurpose | None,
    partner: str,
    given_on: date | None,
    document_ref: str,
    uow: UnitOfWork,
    repository: ClientRepository,
) -> ClientCard:
    principal, now = uow.principal, uow.now
    card = _editable(repository, client_id)
    updated, record = details.record_consent(
        card,
        consent_id=uow.new_id(),
        purpose=purpose,
        partner=partner,
        given_on=given_on,
        document_ref=document_ref,
        by=principal.subject,
        now=now,
    )
    return save_change(
        card, updated, events_pb2.ConsentRecorded, _consent_payload(record), "consent-record",
        uow, repository,
    )  # fmt: skip


def withdraw_consent(
    client_id: str,
    purpose: ConsentPurpose | None,
    partner: str,
    withdrawn_on: date | None,
    document_ref: str,
    reason: str,
    uow: UnitOfWork,
    repository: ClientRepository,
) -> ClientCard:
    principal, now = uow.principal, uow.now
    card = _editable(repository, client_id)
    _require(principal, proposals.MAY_WITHDRAW_CONSENT, "record a consent withdrawn")
    updated, record = details.withdraw_consent(
        card,
        consent_id=uow.new_id(),
        purpose=purpose,
        partner=partner,
        withdrawn_on=withdrawn_on,
        document_ref=document_ref,
        note=reason,
        by=principal.subject,
        now=now,
    )
    return save_change(
        card, updated, events_pb2.ConsentWithdrawn, _consent_payload(record), "consent-withdraw",
        uow, repository,
    )  # fmt: skip


def add_note(
    client_id: str,
    text: str,
    corrects_note_id: str,
    uow: UnitOfWork,
    repository: ClientRepository,
) -> ClientCard:
    """A free note (its text stays on the card: the event carries ids only)."""
    principal, now = uow.principal, uow.now
    card = _editable(repository, client_id)
    updated, note = details.add_note(
        card,
        note_id=uow.new_id(),
        text=text,
        corrects_note_id=corrects_note_id,
        author=principal.subject,
        now=now,
    )
    return save_change(
        card,
        updated,
        events_pb2.NoteAdded,
        {"note_id": note.note_id, "author": note.author,
         "corrects_note_id": note.corrects_note_id},
        "note",
        uow,
        repository,
    )  # fmt: skip


def record_contact(
    client_id: str,
    on: date | None,
    channel: ContactChannel | None,
    worker_id: str,
    summary: str,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    org: Organisation,
) -> ClientCard:
    """A contact with the client; the inactivity rule counts from the latest one."""
    principal, now = uow.principal, uow.now
    card = _editable(repository, client_id)
    updated, record = details.record_contact(
        card,
        contact_id=uow.new_id(),
        on=on,
        channel=channel,
        worker_id=worker_id,
        summary=summary,
        org=org,
        by=principal.subject,
        now=now,
    )
    return save_change(
        card,
        updated,
        events_pb2.ClientContactRecorded,
        {
            "contact_id": record.contact_id,
            "contacted_on": record.on.isoformat(),
            "channel": record.channel.value,
            "worker_id": record.worker_id,
            "last_contact_on": updated.last_contact_on.isoformat()
            if updated.last_contact_on
            else "",
        },
        "contact",
        uow,
        repository,
    )
