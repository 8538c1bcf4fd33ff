"""Two cards of one person become one: the survivor takes the absorbed card's referrals,
consultations, contracts, details and whole history; the absorbed card redirects."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from casework_clients.domain import enrolments as enrolment_rules
from casework_clients.domain.cards import (
    AbsorbedStatus,
    ClientCard,
    HistoryEntry,
    later_day,
)

# ------------------------------------------------------------------ merge


def merge_cards(
    survivor: ClientCard, absorbed: ClientCard, reason: str, actor: str, now: datetime
) -> tuple[ClientCard, ClientCard]:
    """Two cards of one person become one: the survivor takes the absorbed card's
    referrals, consultations, centres, problems, contracts and its whole history (each
    line marked with where it came from); the absorbed card keeps its own data and
    history and only redirects to the survivor from now on."""
    copied = tuple(
        HistoryEntry(h.at, f"[from card {absorbed.client_id}] {h.what}", h.by)
        for h in absorbed.history
    )
    status_lines = tuple(
        HistoryEntry(
            e.recorded_at, f"[from card {absorbed.client_id}] status: {e.explanation}", e.actor
        )
        for e in absorbed.status_entries
    )
    merged_history = tuple(
        sorted(
            (*survivor.history, *copied, *status_lines),
            key=lambda h: h.at,
        )
    )
    known_contracts = {c.contract_id for c in survivor.contracts}
    survivor_after = replace(
        survivor,
        referral_ids=(
            *survivor.referral_ids,
            *(r for r in absorbed.referral_ids if r not in survivor.referral_ids),
        ),
        consultation_ids=(
            *survivor.consultation_ids,
            *(c for c in absorbed.consultation_ids if c not in survivor.consultation_ids),
        ),
        consultations=(
            *survivor.consultations,
            *(
                a
                for a in absorbed.consultations
                if a.consultation.consultation_id not in survivor.consultation_ids
            ),
        ),
        centre_ids=(
            *survivor.centre_ids,
            *(c for c in absorbed.centre_ids if c not in survivor.centre_ids),
        ),
        problem_types=(
            *survivor.problem_types,
            *(p for p in absorbed.problem_types if p not in survivor.problem_types),
        ),
        contracts=(
            *survivor.contracts,
            *(c for c in absorbed.contracts if c.contract_id not in known_contracts),
        ),
        phone=survivor.phone or absorbed.phone,
        email=survivor.email or absorbed.email,
        address=survivor.address or absorbed.address,
        last_contact_on=later_day(survivor.last_contact_on, absorbed.last_contact_on),
        merged_from=(*survivor.merged_from, absorbed.client_id),
        absorbed_status=(
            *survivor.absorbed_status,
            *absorbed.absorbed_status,
            *(
                (AbsorbedStatus(absorbed.client_id, absorbed.status_entries),)
                if absorbed.status_entries
                else ()
            ),
        ),
        history=(
            *merged_history,
            HistoryEntry(
                now, f"card {absorbed.client_id} merged into this card; reason: {reason}", actor
            ),
        ),
    )
    survivor_after = _with_details_of(survivor_after, absorbed)
    # The absorbed card's projects and programmes stay on record; the survivor's lead
    # (whose settings govern the status) is kept, so a merge never switches the rules.
    enrolled = enrolment_rules.merged(survivor.enrolment_record, absorbed.enrolment_record)
    lead = enrolment_rules.lead_of(enrolled)
    survivor_after = replace(
        survivor_after,
        enrolments=enrolled,
        project_id=lead.project_id if lead is not None else survivor.project_id,
    )
    absorbed_after = replace(
        absorbed,
        merged_into=survivor.client_id,
        history=(
            *absorbed.history,
            HistoryEntry(
                now,
                f"merged into card {survivor.client_id}; reason: {reason}; "
                "this card only redirects from now on",
                actor,
            ),
        ),
    )
    return survivor_after, absorbed_after


def _with_details_of(survivor: ClientCard, absorbed: ClientCard) -> ClientCard:
    """The survivor's contacts, responsible workers, consents, notes and contacts with
    the absorbed card's added (nothing of either card is lost; no duplicates)."""
    known_points = {(c.kind, c.value.casefold()) for c in survivor.contacts}
    known_workers = {w.worker_id for w in survivor.responsible_workers}
    known_consents = {c.consent_id for c in survivor.consent_records}
    known_notes = {n.note_id for n in survivor.notes}
    known_contacts = {c.contact_id for c in survivor.contact_records}
    consents = (
        *survivor.consent_records,
        *(c for c in absorbed.consent_records if c.consent_id not in known_consents),
    )
    return replace(
        survivor,
        contacts=(
            *survivor.contacts,
            *(c for c in absorbed.contacts if (c.kind, c.value.casefold()) not in known_points),
        ),
        responsible_workers=(
            *survivor.responsible_workers,
            *(w for w in absorbed.responsible_workers if w.worker_id not in known_workers),
        ),
        # Ordered by date, so each consent's state stays its latest record.
        consent_records=tuple(sorted(consents, key=lambda c: (c.on, c.recorded_at))),
        notes=tuple(
            sorted(
                (*survivor.notes, *(n for n in absorbed.notes if n.note_id not in known_notes)),
                key=lambda n: n.at,
            )
        ),
        contact_records=tuple(
            sorted(
                (
                    *survivor.contact_records,
                    *(c for c in absorbed.contact_records if c.contact_id not in known_contacts),
                ),
                key=lambda c: (c.on, c.recorded_at),
            )
        ),
    )
