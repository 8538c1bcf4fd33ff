"""Clients' domain values as gRPC messages, and the wire's enums as the domain's:
translation only (the rules live in the domain)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from casework.clients.v1 import clients_pb2
from casework_clients.adapters.repository import AuditEntry
from casework_clients.domain import details
from casework_clients.domain.cards import ClientCard
from casework_clients.domain.colour import Colour, ColourVerdict, PlanState
from casework_clients.domain.enrolments import Enrolment
from casework_clients.domain.projects import Project, SettingsVersion
from casework_clients.domain.proposals import (
    MatchProposal,
    ProposalStatus,
    SharingRequest,
    SharingStatus,
)
from casework_clients.domain.records import (
    ConsentAction,
    ConsentPurpose,
    ConsentRecord,
    ContactChannel,
    ContactKind,
)
from casework_clients.domain.statistics import StatusReport
from casework_clients.domain.status import (
    ClientStatus,
    EntrySource,
    StatusEntry,
    StatusMode,
    StatusSettings,
)
from casework_clients.use_cases.families import FamilyView
from casework_clients.use_cases.reading import colour_of

_STATUS = {
    "approached": clients_pb2.CLIENT_STATUS_APPROACHED,
    "applicant": clients_pb2.CLIENT_STATUS_APPLICANT,
    "service_user": clients_pb2.CLIENT_STATUS_SERVICE_USER,
    "rejected": clients_pb2.CLIENT_STATUS_REJECTED,
    "terminated": clients_pb2.CLIENT_STATUS_TERMINATED,
}
STATUS_NAME: dict[int, str] = {int(value): name for name, value in _STATUS.items()}
_COLOUR = {
    Colour.WHITE: clients_pb2.COLOUR_WHITE,
    Colour.BLUE: clients_pb2.COLOUR_BLUE,
    Colour.GREEN: clients_pb2.COLOUR_GREEN,
    Colour.AMBER: clients_pb2.COLOUR_AMBER,
    Colour.RED: clients_pb2.COLOUR_RED,
    Colour.GREY: clients_pb2.COLOUR_GREY,
}
COLOUR_OF: dict[int, Colour] = {int(value): colour for colour, value in _COLOUR.items()}
_CONTACT_KIND = {
    ContactKind.PHONE: clients_pb2.CONTACT_KIND_PHONE,
    ContactKind.EMAIL: clients_pb2.CONTACT_KIND_EMAIL,
}
CONTACT_KIND_OF: dict[int, ContactKind] = {int(v): k for k, v in _CONTACT_KIND.items()}
_PURPOSE = {
    ConsentPurpose.DATA_PROCESSING: clients_pb2.CONSENT_PURPOSE_DATA_PROCESSING,
    ConsentPurpose.FEEDBACK_CALLS: clients_pb2.CONSENT_PURPOSE_FEEDBACK_CALLS,
    ConsentPurpose.SHARING_WITH_PARTNER: clients_pb2.CONSENT_PURPOSE_SHARING_WITH_PARTNER,
}
PURPOSE_OF: dict[int, ConsentPurpose] = {int(v): k for k, v in _PURPOSE.items()}
_ACTION = {
    ConsentAction.GIVEN: clients_pb2.CONSENT_ACTION_GIVEN,
    ConsentAction.WITHDRAWN: clients_pb2.CONSENT_ACTION_WITHDRAWN,
}
_CHANNEL = {
    ContactChannel.PHONE: clients_pb2.CONTACT_CHANNEL_PHONE,
    ContactChannel.IN_PERSON: clients_pb2.CONTACT_CHANNEL_IN_PERSON,
    ContactChannel.HOME_VISIT: clients_pb2.CONTACT_CHANNEL_HOME_VISIT,
    ContactChannel.EMAIL: clients_pb2.CONTACT_CHANNEL_EMAIL,
    ContactChannel.VIDEO_CALL: clients_pb2.CONTACT_CHANNEL_VIDEO_CALL,
    ContactChannel.LETTER: clients_pb2.CONTACT_CHANNEL_LETTER,
    ContactChannel.MESSAGE: clients_pb2.CONTACT_CHANNEL_MESSAGE,
    ContactChannel.OTHER: clients_pb2.CONTACT_CHANNEL_OTHER,
}
CHANNEL_OF: dict[int, ContactChannel] = {int(v): k for k, v in _CHANNEL.items()}
_PROPOSAL_STATUS = {
    ProposalStatus.PENDING: clients_pb2.MATCH_PROPOSAL_STATUS_PENDING,
    ProposalStatus.CONFIRMED: clients_pb2.MATCH_PROPOSAL_STATUS_CONFIRMED,
    ProposalStatus.REJECTED: clients_pb2.MATCH_PROPOSAL_STATUS_REJECTED,
}
PROPOSAL_STATUS_OF: dict[int, ProposalStatus] = {int(v): k for k, v in _PROPOSAL_STATUS.items()}
_SHARING_STATUS = {
    SharingStatus.PENDING: clients_pb2.SHARING_REQUEST_STATUS_PENDING,
    SharingStatus.ACCEPTED: clients_pb2.SHARING_REQUEST_STATUS_ACCEPTED,
    SharingStatus.DECLINED: clients_pb2.SHARING_REQUEST_STATUS_DECLINED,
}
SHARING_STATUS_OF: dict[int, SharingStatus] = {int(v): k for k, v in _SHARING_STATUS.items()}
_DETAIL = {
    "phone": clients_pb2.REFERRAL_DETAIL_PHONE,
    "email": clients_pb2.REFERRAL_DETAIL_EMAIL,
    "address": clients_pb2.REFERRAL_DETAIL_ADDRESS,
}
DETAIL_OF: dict[int, str] = {int(v): k for k, v in _DETAIL.items()}


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _entry(entry: StatusEntry, from_client_id: str = "") -> clients_pb2.StatusEntry:
    return clients_pb2.StatusEntry(
        from_client_id=from_client_id,
        status=_STATUS[entry.status.value],
        effective_on=entry.effective_on.isoformat(),
        recorded_at=_ts(entry.recorded_at),
        source=(
            clients_pb2.STATUS_SOURCE_MANUAL
            if entry.source is EntrySource.MANUAL
            else clients_pb2.STATUS_SOURCE_AUTOMATIC
        ),
        actor=entry.actor,
        reason=entry.reason or "",
        explanation=entry.explanation,
        sequence=entry.sequence,
        episode=entry.episode,
        supersedes=list(entry.supersedes),
    )


def _colour(verdict: ColourVerdict) -> clients_pb2.ColourVerdict:
    return clients_pb2.ColourVerdict(
        colour=_COLOUR[verdict.colour], explanation=verdict.explanation, rule_id=verdict.rule_id
    )


def to_message(
    card: ClientCard, today: date | None = None, plan: PlanState | None = None
) -> clients_pb2.Client:
    today = today or date.today()
    return clients_pb2.Client(
        client_id=card.client_id,
        given_name=card.given_name,
        family_name=card.family_name,
        date_of_birth=card.date_of_birth.isoformat() if card.date_of_birth else "",
        missing_details=list(card.missing_details),
        phone=card.phone,
        email=card.email,
        address=card.address,
        region_id=card.region_id,
        centre_ids=list(card.centre_ids),
        client_type=card.client_type,
        problem_types=list(card.problem_types),
        status=_STATUS.get(card.status, clients_pb2.CLIENT_STATUS_UNSPECIFIED),
        referral_ids=list(card.referral_ids),
        registered_at=_ts(card.registered_at),
        status_history=[_entry(e) for e in card.status_entries],
        episode=card.episode,
        contracts=[
            clients_pb2.ContractRecord(
                contract_id=c.contract_id,
                signed_on=c.signed_on.isoformat(),
                valid_until=c.valid_until.isoformat() if c.valid_until else "",
            )
            for c in card.contracts
        ],
        colour=_colour(colour_of(card, today, plan)),
        archived=card.archived,
        merged_from_client_ids=list(card.merged_from),
        consultation_ids=list(card.consultation_ids),
        history=[
            clients_pb2.HistoryEntry(at=_ts(h.at), what=h.what, by=h.by) for h in card.history
        ],
        last_contact_on=card.last_contact_on.isoformat() if card.last_contact_on else "",
        project_id=card.project_id,
        channel=card.channel,
        consultations=[
            clients_pb2.ConsultationRecord(
                consultation_id=a.consultation.consultation_id,
                topic=a.consultation.topic,
                duration_minutes=a.consultation.duration_minutes,
                worker_id=a.consultation.worker_id,
                channel=a.consultation.channel,
                centre_id=a.consultation.centre_id,
                recorded_at=_ts(a.consultation.recorded_at),
                attached_at=_ts(a.attached_at),
                attached_by=a.attached_by,
                how=a.how,
            )
            for a in card.consultations
        ],
        merged_status_history=[
            _entry(e, a.client_id) for a in card.absorbed_status for e in a.entries
        ],
        contacts=[
            clients_pb2.ContactPoint(kind=_CONTACT_KIND[p.kind], value=p.value, label=p.label)
            for p in details.contact_points(card)
        ],
        responsible_workers=[
            clients_pb2.ResponsibleWorker(
                worker_id=w.worker_id, assigned_at=_ts(w.assigned_at), assigned_by=w.assigned_by
            )
            for w in card.responsible_workers
        ],
        consents=[
            clients_pb2.Consent(
                purpose=_PURPOSE[r.purpose],
                partner=r.partner,
                given=r.action is ConsentAction.GIVEN,
                since=r.on.isoformat(),
                consent_id=r.consent_id,
            )
            for r in details.consent_state(card.consent_records).values()
        ],
        consent_records=[_consent(r) for r in card.consent_records],
        notes=[
            clients_pb2.Note(
                note_id=n.note_id,
                author=n.author,
                at=_ts(n.at),
                text=n.text,
                corrects_note_id=n.corrects_note_id,
                corrected_by_note_ids=list(corrections.get(n.note_id, ())),
            )
            for corrections in [details.corrected_by(card.notes)]
            for n in card.notes
        ],
        enrolments=[enrolment_message(e) for e in card.enrolment_record],
        contact_records=[
            clients_pb2.ContactRecord(
                contact_id=c.contact_id,
                contacted_on=c.on.isoformat(),
                channel=_CHANNEL[c.channel],
                worker_id=c.worker_id,
                summary=c.summary,
                recorded_at=_ts(c.recorded_at),
                recorded_by=c.recorded_by,
            )
            for c in card.contact_records
        ],
    )


def _consent(record: ConsentRecord) -> clients_pb2.ConsentRecord:
    return clients_pb2.ConsentRecord(
        consent_id=record.consent_id,
        purpose=_PURPOSE[record.purpose],
        partner=record.partner,
        action=_ACTION[record.action],
        on=record.on.isoformat(),
        recorded_by=record.recorded_by,
        recorded_at=_ts(record.recorded_at),
        document_ref=record.document_ref,
        reason=record.note,
    )


def proposal_message(p: MatchProposal) -> clients_pb2.MatchProposal:
    f = p.referral
    message = clients_pb2.MatchProposal(
        proposal_id=p.proposal_id,
        client_id=p.client_id,
        referral_id=f.referral_id,
        referring_centre_id=f.centre_id,
        given_name=f.given_name,
        family_name=f.family_name,
        date_of_birth=f.date_of_birth.isoformat() if f.date_of_birth else "",
        unverified=clients_pb2.UnverifiedDetails(
            phone=p.unverified.phone, email=p.unverified.email, address=p.unverified.address
        ),
        client_type=f.client_type,
        problem_type=f.problem_type,
        channel=f.channel,
        match=p.match,
        score=p.score,
        reasons=list(p.reasons),
        status=_PROPOSAL_STATUS[p.status],
        proposed_at=_ts(p.proposed_at),
        decided_by=p.decided_by,
        merged_details=[_DETAIL[d] for d in p.merged_details],
        shared_with_referring_centre=p.shared_with_referring_centre,
        reason=p.reason,
    )
    if p.decided_at is not None:
        message.decided_at.CopyFrom(_ts(p.decided_at))
    return message


def sharing_message(r: SharingRequest) -> clients_pb2.SharingRequest:
    message = clients_pb2.SharingRequest(
        request_id=r.request_id,
        client_id=r.client_id,
        requester_client_id=r.requester_client_id,
        requesting_centre_ids=list(r.requesting_centre_ids),
        requested_by=r.requested_by,
        cause=r.cause,
        requested_at=_ts(r.requested_at),
        status=_SHARING_STATUS[r.status],
        decided_by=r.decided_by,
    )
    if r.decided_at is not None:
        message.decided_at.CopyFrom(_ts(r.decided_at))
    return message


def _reasons(counter: Counter[str]) -> list[clients_pb2.ReasonCount]:
    return [
        clients_pb2.ReasonCount(reason=reason, count=count)
        for reason, count in sorted(counter.items())
        if count
    ]


_ORDER = list(ClientStatus)


def _flow_order(item: tuple[tuple[ClientStatus | None, ClientStatus], int]) -> tuple[int, int]:
    (a, b), _ = item
    return (_ORDER.index(a) if a else -1, _ORDER.index(b))


def report_message(report: StatusReport) -> clients_pb2.StatusReport:
    return clients_pb2.StatusReport(
        total=report.total,
        statuses=[
            clients_pb2.StatusCount(status=_STATUS[s.value], count=report.statuses[s])
            for s in _ORDER
        ],
        rejection_reasons=_reasons(report.rejection_reasons),
        termination_reasons=_reasons(report.termination_reasons),
        flows=[
            clients_pb2.StatusFlow(
                from_status=_STATUS[a.value] if a else clients_pb2.CLIENT_STATUS_UNSPECIFIED,
                to_status=_STATUS[b.value],
                count=n,
            )
            for (a, b), n in sorted(report.flows.items(), key=_flow_order)
        ],
    )


def family_message(view: FamilyView) -> clients_pb2.Family:
    """The family with the members the caller may see; the others only counted."""
    family = view.family
    visible = {m.client_id for m in view.members}
    return clients_pb2.Family(
        family_id=family.family_id,
        name=family.name,
        centre_ids=list(family.centre_ids),
        members=[
            clients_pb2.FamilyMember(
                client_id=m.client_id, role=m.role, parent_client_ids=list(m.parent_ids)
            )
            for m in family.members
            if m.client_id in visible
        ],
        hidden_member_count=view.hidden_members,
        status=_STATUS[view.status.status.value]
        if view.status.status
        else clients_pb2.CLIENT_STATUS_UNSPECIFIED,
        status_explanation=view.status.explanation,
        colour=_colour(view.colour),
        status_history=[_entry(e) for e in family.status_entries],
        history=[
            clients_pb2.HistoryEntry(at=_ts(h.at), what=h.what, by=h.by) for h in family.history
        ],
    )


def audit_message(e: AuditEntry) -> clients_pb2.AuditEntry:
    return clients_pb2.AuditEntry(
        client_id=e.client_id, subject=e.subject, action=e.action, at=_ts(e.at),
        trace_id=e.trace_id or "",
    )  # fmt: skip


# ------------------------------------------------------------------ projects


def enrolment_message(e: Enrolment) -> clients_pb2.Enrolment:
    return clients_pb2.Enrolment(
        project_id=e.project_id,
        since=e.since.isoformat(),
        until=e.until.isoformat() if e.until else "",
        enrolled_by=e.enrolled_by,
        enrolled_at=_ts(e.enrolled_at),
        end_reason=e.end_reason,
        ended_by=e.ended_by,
        lead=e.lead,
    )


_MODE = {
    StatusMode.AUTOMATIC: clients_pb2.STATUS_MODE_AUTOMATIC,
    StatusMode.MANUAL: clients_pb2.STATUS_MODE_MANUAL,
}
MODE_NAME = {
    clients_pb2.STATUS_MODE_AUTOMATIC: StatusMode.AUTOMATIC.value,
    clients_pb2.STATUS_MODE_MANUAL: StatusMode.MANUAL.value,
}


def settings_message(settings: StatusSettings) -> clients_pb2.StatusSettings:
    return clients_pb2.StatusSettings(
        mode=_MODE[settings.mode],
        use_approached=settings.use_approached,
        inactivity_days=settings.inactivity_days or 0,
        shared_with_family=settings.shared_with_family,
        rejection_reasons=list(settings.rejection_reasons),
        termination_reasons=list(settings.termination_reasons),
    )


def _settings_version(v: SettingsVersion) -> clients_pb2.StatusSettingsVersion:
    return clients_pb2.StatusSettingsVersion(
        version=v.version,
        effective_from=v.effective_from.isoformat(),
        settings=settings_message(v.settings),
        changed_by=v.changed_by,
        changed_at=_ts(v.changed_at),
        note=v.note,
    )


def project_message(project: Project, today: date) -> clients_pb2.Project:
    in_force = project.version_on(today)
    return clients_pb2.Project(
        project_id=project.project_id,
        name=project.name,
        versions=[_settings_version(v) for v in project.versions],
        in_force=_settings_version(in_force) if in_force is not None else None,
    )
