"""gRPC entry point of clients: translates messages to use cases and back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework_clients import services
from casework_clients.bootstrap import Clients, bootstrap
from casework_clients.domain import details, search
from casework_clients.domain.cards import ClientCard, Contract, NewPerson
from casework_clients.domain.colour import Colour, ColourVerdict
from casework_clients.domain.families import Family, FamilyMember
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
    ContactPoint,
)
from casework_clients.domain.statistics import StatusReport
from casework_clients.domain.status import (
    ClientStatus,
    EntrySource,
    StatusEntry,
    StatusSettings,
)
from casework_common.auth import Principal
from casework_common.errors import FieldError, InvalidArgument, NotFound
from casework_common.grpc_runtime import current_principal
from casework_common.messages import guard_requests
from casework_common.organisation import Organisation
from casework_common.paging import next_token, page_window
from casework_common.telemetry import current_trace_carrier

_STATUS = {
    "approached": clients_pb2.CLIENT_STATUS_APPROACHED,
    "applicant": clients_pb2.CLIENT_STATUS_APPLICANT,
    "service_user": clients_pb2.CLIENT_STATUS_SERVICE_USER,
    "rejected": clients_pb2.CLIENT_STATUS_REJECTED,
    "terminated": clients_pb2.CLIENT_STATUS_TERMINATED,
}
_STATUS_NAME: dict[int, str] = {int(value): name for name, value in _STATUS.items()}
_COLOUR = {
    Colour.WHITE: clients_pb2.COLOUR_WHITE,
    Colour.BLUE: clients_pb2.COLOUR_BLUE,
    Colour.GREEN: clients_pb2.COLOUR_GREEN,
    Colour.AMBER: clients_pb2.COLOUR_AMBER,
    Colour.RED: clients_pb2.COLOUR_RED,
    Colour.GREY: clients_pb2.COLOUR_GREY,
}
MAX_NAME = 200
_CONTACT_KIND = {
    ContactKind.PHONE: clients_pb2.CONTACT_KIND_PHONE,
    ContactKind.EMAIL: clients_pb2.CONTACT_KIND_EMAIL,
}
_CONTACT_KIND_OF: dict[int, ContactKind] = {int(v): k for k, v in _CONTACT_KIND.items()}
_PURPOSE = {
    ConsentPurpose.DATA_PROCESSING: clients_pb2.CONSENT_PURPOSE_DATA_PROCESSING,
    ConsentPurpose.FEEDBACK_CALLS: clients_pb2.CONSENT_PURPOSE_FEEDBACK_CALLS,
    ConsentPurpose.SHARING_WITH_PARTNER: clients_pb2.CONSENT_PURPOSE_SHARING_WITH_PARTNER,
}
_PURPOSE_OF: dict[int, ConsentPurpose] = {int(v): k for k, v in _PURPOSE.items()}
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
_CHANNEL_OF: dict[int, ContactChannel] = {int(v): k for k, v in _CHANNEL.items()}
_PROPOSAL_STATUS = {
    ProposalStatus.PENDING: clients_pb2.MATCH_PROPOSAL_STATUS_PENDING,
    ProposalStatus.CONFIRMED: clients_pb2.MATCH_PROPOSAL_STATUS_CONFIRMED,
    ProposalStatus.REJECTED: clients_pb2.MATCH_PROPOSAL_STATUS_REJECTED,
}
_PROPOSAL_STATUS_OF: dict[int, ProposalStatus] = {int(v): k for k, v in _PROPOSAL_STATUS.items()}
_SHARING_STATUS = {
    SharingStatus.PENDING: clients_pb2.SHARING_REQUEST_STATUS_PENDING,
    SharingStatus.ACCEPTED: clients_pb2.SHARING_REQUEST_STATUS_ACCEPTED,
    SharingStatus.DECLINED: clients_pb2.SHARING_REQUEST_STATUS_DECLINED,
}
_SHARING_STATUS_OF: dict[int, SharingStatus] = {int(v): k for k, v in _SHARING_STATUS.items()}
_DETAIL = {
    "phone": clients_pb2.REFERRAL_DETAIL_PHONE,
    "email": clients_pb2.REFERRAL_DETAIL_EMAIL,
    "address": clients_pb2.REFERRAL_DETAIL_ADDRESS,
}
_DETAIL_OF: dict[int, str] = {int(v): k for k, v in _DETAIL.items()}
UPDATE_PATHS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "contacts",
    "address",
    "centre_ids",
    "client_type",
    "problem_types",
)


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _entry(entry: StatusEntry) -> clients_pb2.StatusEntry:
    return clients_pb2.StatusEntry(
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


def to_message(card: ClientCard, today: date | None = None) -> clients_pb2.Client:
    today = today or date.today()
    return clients_pb2.Client(
        client_id=card.client_id,
        given_name=card.given_name,
        family_name=card.family_name,
        date_of_birth=card.date_of_birth.isoformat(),
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
        colour=_colour(services.colour_of(card, today)),
        archived=card.archived,
        merged_from_client_ids=list(card.merged_from),
        consultation_ids=list(card.consultation_ids),
        history=[
            clients_pb2.HistoryEntry(at=_ts(h.at), what=h.what, by=h.by) for h in card.history
        ],
        last_contact_on=card.last_contact_on.isoformat() if card.last_contact_on else "",
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


def _purpose(value: int, errors: list[FieldError]) -> ConsentPurpose | None:
    purpose = _PURPOSE_OF.get(value)
    if purpose is None:
        errors.append(
            FieldError("purpose", "is required" if value == 0 else f"unknown purpose {value}")
        )
    return purpose


def _trace_id() -> str:
    return format(trace.get_current_span().get_span_context().trace_id, "032x")


def _date(
    value: str,
    field: str,
    errors: list[FieldError],
    *,
    today: date,
    required: bool = False,
    default: date | None = None,
    future_ok: bool = False,
) -> date | None:
    if not value:
        if required:
            errors.append(FieldError(field, "is required (YYYY-MM-DD)"))
        return default
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(field, "must be a date YYYY-MM-DD"))
        return None
    if len(value) != 10:
        errors.append(FieldError(field, "must be a date YYYY-MM-DD"))
        return None
    if not future_ok and parsed > today:
        errors.append(FieldError(field, f"is in the future (today is {today.isoformat()})"))
        return None
    return parsed


def _status_name(value: int, field: str, errors: list[FieldError], required: bool) -> str:
    if value == clients_pb2.CLIENT_STATUS_UNSPECIFIED:
        if required:
            errors.append(FieldError(field, "is required"))
        return ""
    name = _STATUS_NAME.get(value)
    if name is None:
        errors.append(FieldError(field, f"unknown status {value}"))
        return ""
    return name


def _text(value: str, field: str, errors: list[FieldError], *, required: bool, most: int) -> str:
    value = value.strip()
    if required and not value:
        errors.append(FieldError(field, "is required"))
    if len(value) > most:
        errors.append(FieldError(field, f"at most {most} characters"))
    return value


@guard_requests
class ClientsServicer(clients_pb2_grpc.ClientsServiceServicer):
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    # ------------------------------------------------------------------ helpers

    def _today(self) -> date:
        return self._clients.clock().date()

    def _organisation(self, principal: Principal) -> Organisation | None:
        return self._clients.organisations.get(principal.organisation)

    def _settings(self, principal: Principal) -> StatusSettings:
        return self._clients.status_settings_of(principal.organisation)

    def _org(self, principal: Principal) -> Organisation:
        org = self._organisation(principal)
        if org is None:
            raise NotFound(f"organisation {principal.organisation} is not configured here")
        return org

    def _msg(self, card: ClientCard) -> clients_pb2.Client:
        return to_message(card, self._today())

    def _candidate(self, candidate: services.Candidate) -> clients_pb2.ClientCandidate:
        return clients_pb2.ClientCandidate(
            client=self._msg(candidate.card),
            score=candidate.match.score,
            reasons=list(candidate.match.reasons),
        )

    def _family(
        self, principal: Principal, family_id: str | None = None, family: Family | None = None
    ) -> clients_pb2.Family:
        if family is None:
            family = self._clients.families_for(principal).get(family_id or "")
        view = services.view_family(
            family,
            self._clients.cards_for(principal),
            self._settings(principal),
            self._today(),
        )
        visible = {m.client_id for m in view.members}
        cards_repo = self._clients.cards_for(principal)
        now, trace_id = self._clients.clock(), _trace_id()
        for client_id in sorted(visible):
            cards_repo.audit(client_id, principal.subject, "family-read", now, trace_id)
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

    # ------------------------------------------------------------------ cards

    def GetClient(
        self, request: clients_pb2.GetClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetClientResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        card = services.read_client(
            request.client_id,
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace_id=_trace_id(),
        )
        redirected = request.client_id if card.client_id != request.client_id else ""
        return clients_pb2.GetClientResponse(
            client=self._msg(card), redirected_from_client_id=redirected
        )

    def ListClients(
        self, request: clients_pb2.ListClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListClientsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        if request.centre_id:
            principal.require_centre(request.centre_id)
        cards_repo = self._clients.cards_for(principal)
        page = cards_repo.page(centre_id=request.centre_id or None, offset=offset, limit=limit)
        now, trace_id = self._clients.clock(), _trace_id()
        for card in page:
            cards_repo.audit(card.client_id, principal.subject, "list", now, trace_id)
        return clients_pb2.ListClientsResponse(
            clients=[self._msg(card) for card in page],
            next_page_token=next_token(offset, limit, len(page)),
        )

    def SearchClients(
        self, request: clients_pb2.SearchClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.SearchClientsResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        given = _text(request.given_name, "given_name", errors, required=False, most=MAX_NAME)
        family = _text(request.family_name, "family_name", errors, required=False, most=MAX_NAME)
        born = _date(request.date_of_birth, "date_of_birth", errors, today=self._today())
        if not 0 <= request.min_score <= 100:
            errors.append(FieldError("min_score", "between 1 and 100 (0 means 40)"))
        if not 0 <= request.limit <= 100:
            errors.append(FieldError("limit", "between 1 and 100 (0 means 20)"))
        if errors:
            raise InvalidArgument(errors)
        found = services.search_clients(
            search.SearchQuery(given, family, born, request.phone, request.email),
            principal,
            self._clients.cards_for(principal),
            min_score=request.min_score or search.DEFAULT_MIN_SCORE,
            limit=request.limit or 20,
            now=self._clients.clock(),
            trace_id=_trace_id(),
        )
        return clients_pb2.SearchClientsResponse(candidates=[self._candidate(c) for c in found])

    def RegisterClient(
        self, request: clients_pb2.RegisterClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RegisterClientResponse:
        principal = current_principal()
        org = self._organisation(principal)
        errors: list[FieldError] = []
        given = _text(request.given_name, "given_name", errors, required=True, most=MAX_NAME)
        family = _text(request.family_name, "family_name", errors, required=True, most=MAX_NAME)
        born = _date(
            request.date_of_birth, "date_of_birth", errors, today=self._today(), required=True
        )
        address = _text(request.address, "address", errors, required=False, most=500)
        email_problem = details.email_error(request.email.strip()) if request.email else ""
        if email_problem:
            errors.append(FieldError("email", email_problem))
        if request.phone and not search.phone_key(request.phone):
            errors.append(FieldError("phone", "is not a phone number"))
        centre = org.centre(request.centre_id) if org else None
        if not request.centre_id:
            errors.append(FieldError("centre_id", "is required"))
        elif centre is None:
            errors.append(FieldError("centre_id", f"unknown centre {request.centre_id}"))
        if org is not None and request.client_type not in org.client_types:
            errors.append(
                FieldError("client_type", f"must be one of: {', '.join(org.client_types)}")
            )
        if (
            org is not None
            and request.problem_type
            and request.problem_type not in (org.problem_types)
        ):
            errors.append(
                FieldError("problem_type", f"must be one of: {', '.join(org.problem_types)}")
            )
        if errors:
            raise InvalidArgument(errors)
        assert centre is not None and born is not None
        principal.require_centre(centre.id)
        outcome = services.register_client(
            NewPerson(
                organisation=principal.organisation,
                given_name=given,
                family_name=family,
                date_of_birth=born,
                phone=request.phone.strip(),
                email=request.email.strip(),
                address=address,
                region_id=centre.region,
                centre_id=centre.id,
                client_type=request.client_type,
                problem_type=request.problem_type,
            ),
            frozenset(request.dismissed_client_ids),
            principal,
            self._clients.cards_for(principal),
            settings=self._settings(principal),
            consultations=self._clients.consultations_of(principal.organisation),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
            sharing=self._clients.sharing_of_organisation(principal.organisation),
        )
        if outcome.card is None:
            return clients_pb2.RegisterClientResponse(
                created=False, candidates=[self._candidate(c) for c in outcome.candidates]
            )
        return clients_pb2.RegisterClientResponse(created=True, client=self._msg(outcome.card))

    # ------------------------------------------------------------------ status

    def RecordStatus(
        self, request: clients_pb2.RecordStatusRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordStatusResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.client_id:
            errors.append(FieldError("client_id", "is required"))
        status = _status_name(request.status, "status", errors, required=True)
        on = _date(request.effective_on, "effective_on", errors, today=self._today(),
                   default=self._today())  # fmt: skip
        if errors:
            raise InvalidArgument(errors)
        assert on is not None
        card = services.record_status(
            request.client_id,
            status,
            request.reason.strip(),
            on,
            principal,
            self._clients.cards_for(principal),
            settings=self._settings(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.RecordStatusResponse(client=self._msg(card))

    def RecordContractSigned(
        self, request: clients_pb2.RecordContractSignedRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordContractSignedResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.client_id:
            errors.append(FieldError("client_id", "is required"))
        if not request.contract_id.strip() or len(request.contract_id) > 100:
            errors.append(FieldError("contract_id", "is required (at most 100 characters)"))
        signed = _date(request.signed_on, "signed_on", errors, today=self._today(), required=True)
        until = _date(
            request.valid_until, "valid_until", errors, today=self._today(), future_ok=True
        )
        if signed and until and until < signed:
            errors.append(FieldError("valid_until", "is before signed_on"))
        if errors:
            raise InvalidArgument(errors)
        assert signed is not None
        cards_repo = self._clients.cards_for(principal)
        now = self._clients.clock()
        outcome = services.record_contract_signed(
            request.client_id,
            Contract(request.contract_id.strip(), signed, until, now),
            cards_repo,
            settings=self._settings(principal),
            actor=services.worker_actor(principal),
            now=now,
            trace=current_trace_carrier(),
        )
        cards_repo.audit(outcome.card.client_id, principal.subject, "contract", now, _trace_id())
        return clients_pb2.RecordContractSignedResponse(
            client=self._msg(outcome.card),
            recorded=outcome.recorded,
            status_changed=outcome.status_changed,
            explanation=outcome.explanation,
        )

    def ReopenEpisode(
        self, request: clients_pb2.ReopenEpisodeRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ReopenEpisodeResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.client_id:
            errors.append(FieldError("client_id", "is required"))
        status = _status_name(request.status, "status", errors, required=False)
        on = _date(request.effective_on, "effective_on", errors, today=self._today(),
                   default=self._today())  # fmt: skip
        if errors:
            raise InvalidArgument(errors)
        assert on is not None
        card = services.reopen_client_episode(
            request.client_id,
            on,
            status,
            principal,
            self._clients.cards_for(principal),
            settings=self._settings(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.ReopenEpisodeResponse(client=self._msg(card))

    def ArchiveClient(
        self, request: clients_pb2.ArchiveClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ArchiveClientResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        card = services.archive_client(
            request.client_id,
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.ArchiveClientResponse(client=self._msg(card))

    def MergeClients(
        self, request: clients_pb2.MergeClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.MergeClientsResponse:
        principal = current_principal()
        card = services.merge_clients(
            request.survivor_client_id,
            request.absorbed_client_id,
            request.reason,
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
            # Families anywhere in the organisation follow the merge.
            families_repo=self._clients.families_of_organisation(principal.organisation),
        )
        return clients_pb2.MergeClientsResponse(client=self._msg(card))

    # ------------------------------------------------------------------ families

    def CreateFamily(
        self, request: clients_pb2.CreateFamilyRequest, context: grpc.ServicerContext
    ) -> clients_pb2.CreateFamilyResponse:
        principal = current_principal()
        org = self._organisation(principal)
        centre = org.centre(request.centre_id) if org else None
        if centre is None:
            raise InvalidArgument([FieldError("centre_id", "is required: a centre you serve")])
        principal.require_centre(centre.id)
        family = services.create_family(
            request.name,
            centre.id,
            tuple(
                FamilyMember(m.client_id, m.role, tuple(m.parent_client_ids))
                for m in request.members
            ),
            principal,
            self._clients.cards_for(principal),
            self._clients.families_for(principal),
            region_id=centre.region,
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.CreateFamilyResponse(family=self._family(principal, family=family))

    def AddFamilyMember(
        self, request: clients_pb2.AddFamilyMemberRequest, context: grpc.ServicerContext
    ) -> clients_pb2.AddFamilyMemberResponse:
        principal = current_principal()
        if not request.family_id:
            raise InvalidArgument([FieldError("family_id", "is required")])
        m = request.member
        family = services.add_family_member(
            request.family_id,
            FamilyMember(m.client_id, m.role, tuple(m.parent_client_ids)),
            principal,
            self._clients.cards_for(principal),
            self._clients.families_for(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.AddFamilyMemberResponse(family=self._family(principal, family=family))

    def GetFamily(
        self, request: clients_pb2.GetFamilyRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetFamilyResponse:
        principal = current_principal()
        if not request.family_id:
            raise InvalidArgument([FieldError("family_id", "is required")])
        return clients_pb2.GetFamilyResponse(family=self._family(principal, request.family_id))

    def RecordFamilyStatus(
        self, request: clients_pb2.RecordFamilyStatusRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordFamilyStatusResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.family_id:
            errors.append(FieldError("family_id", "is required"))
        status = _status_name(request.status, "status", errors, required=True)
        on = _date(request.effective_on, "effective_on", errors, today=self._today(),
                   default=self._today())  # fmt: skip
        if errors:
            raise InvalidArgument(errors)
        assert on is not None
        family = services.record_family_status(
            request.family_id,
            status,
            request.reason.strip(),
            on,
            principal,
            self._clients.families_for(principal),
            settings=self._settings(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
        )
        return clients_pb2.RecordFamilyStatusResponse(family=self._family(principal, family=family))

    # ------------------------------------------------------------------ card details

    def _changes(self, request: clients_pb2.UpdateClientRequest) -> details.CardChanges:
        errors: list[FieldError] = []
        paths = list(request.update_mask.paths)
        if not paths:
            errors.append(
                FieldError("update_mask", f"name what to change: {', '.join(UPDATE_PATHS)}")
            )
        unknown = [p for p in paths if p not in UPDATE_PATHS]
        if unknown:
            errors.append(
                FieldError(
                    "update_mask",
                    f"unknown path(s) {', '.join(unknown)}; known: {', '.join(UPDATE_PATHS)}",
                )
            )
        c = request.changes
        born = None
        if "date_of_birth" in paths:
            born = _date(c.date_of_birth, "changes.date_of_birth", errors, today=self._today(),
                         required=True)  # fmt: skip
        contacts: tuple[ContactPoint, ...] | None = None
        if "contacts" in paths:
            points = []
            for i, p in enumerate(c.contacts):
                kind = _CONTACT_KIND_OF.get(p.kind)
                if kind is None:
                    errors.append(FieldError(f"changes.contacts[{i}].kind", "phone or e-mail"))
                    continue
                points.append(ContactPoint(kind, p.value, p.label))
            contacts = tuple(points)
        if errors:
            raise InvalidArgument(errors)
        return details.CardChanges(
            given_name=c.given_name if "given_name" in paths else None,
            family_name=c.family_name if "family_name" in paths else None,
            date_of_birth=born,
            contacts=contacts,
            address=c.address if "address" in paths else None,
            centre_ids=tuple(c.centre_ids) if "centre_ids" in paths else None,
            client_type=c.client_type if "client_type" in paths else None,
            problem_types=tuple(c.problem_types) if "problem_types" in paths else None,
        )

    def UpdateClient(
        self, request: clients_pb2.UpdateClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.UpdateClientResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        card = services.update_client(
            request.client_id,
            self._changes(request),
            principal,
            self._clients.cards_for(principal),
            org=self._org(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
            sharing=self._clients.sharing_of_organisation(principal.organisation),
        )
        return clients_pb2.UpdateClientResponse(client=self._msg(card))

    def AssignResponsibleWorker(
        self, request: clients_pb2.AssignResponsibleWorkerRequest, context: grpc.ServicerContext
    ) -> clients_pb2.AssignResponsibleWorkerResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        card = services.assign_responsible_worker(
            request.client_id,
            request.worker_id.strip(),
            principal,
            self._clients.cards_for(principal),
            org=self._org(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.AssignResponsibleWorkerResponse(client=self._msg(card))

    def UnassignResponsibleWorker(
        self, request: clients_pb2.UnassignResponsibleWorkerRequest, context: grpc.ServicerContext
    ) -> clients_pb2.UnassignResponsibleWorkerResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        card = services.unassign_responsible_worker(
            request.client_id,
            request.worker_id.strip(),
            request.reason,
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.UnassignResponsibleWorkerResponse(client=self._msg(card))

    def RecordConsent(
        self, request: clients_pb2.RecordConsentRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordConsentResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.client_id:
            errors.append(FieldError("client_id", "is required"))
        purpose = _purpose(request.purpose, errors)
        on = _date(request.given_on, "given_on", errors, today=self._today(), required=True)
        if errors:
            raise InvalidArgument(errors)
        card = services.record_consent(
            request.client_id,
            purpose,
            request.partner,
            on,
            request.document_ref,
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.RecordConsentResponse(client=self._msg(card))

    def WithdrawConsent(
        self, request: clients_pb2.WithdrawConsentRequest, context: grpc.ServicerContext
    ) -> clients_pb2.WithdrawConsentResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.client_id:
            errors.append(FieldError("client_id", "is required"))
        purpose = _purpose(request.purpose, errors)
        on = _date(request.withdrawn_on, "withdrawn_on", errors, today=self._today(), required=True)
        if errors:
            raise InvalidArgument(errors)
        card = services.withdraw_consent(
            request.client_id,
            purpose,
            request.partner,
            on,
            request.document_ref,
            request.reason,
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.WithdrawConsentResponse(client=self._msg(card))

    def AddNote(
        self, request: clients_pb2.AddNoteRequest, context: grpc.ServicerContext
    ) -> clients_pb2.AddNoteResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        card = services.add_note(
            request.client_id,
            request.text,
            request.corrects_note_id.strip(),
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.AddNoteResponse(client=self._msg(card), note_id=card.notes[-1].note_id)

    def RecordContact(
        self, request: clients_pb2.RecordContactRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordContactResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.client_id:
            errors.append(FieldError("client_id", "is required"))
        on = _date(request.contacted_on, "contacted_on", errors, today=self._today(),
                   default=self._today())  # fmt: skip
        channel = _CHANNEL_OF.get(request.channel)
        if channel is None:
            errors.append(
                FieldError(
                    "channel",
                    "is required" if request.channel == 0 else f"unknown channel {request.channel}",
                )
            )
        if errors:
            raise InvalidArgument(errors)
        card = services.record_contact(
            request.client_id,
            on,
            channel,
            request.worker_id.strip() or principal.subject,
            request.summary,
            principal,
            self._clients.cards_for(principal),
            org=self._org(principal),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.RecordContactResponse(client=self._msg(card))

    # ------------------------------------------------------------------ statistics

    def GetStatistics(
        self, request: clients_pb2.GetStatisticsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetStatisticsResponse:
        principal = current_principal()
        org = self._organisation(principal)
        errors: list[FieldError] = []
        today = self._today()
        start = _date(request.period_start, "period_start", errors, today=today, required=True,
                      future_ok=True)  # fmt: skip
        end = _date(request.period_end, "period_end", errors, today=today, required=True,
                    future_ok=True)  # fmt: skip
        if start and end and end < start:
            errors.append(FieldError("period_end", "is before period_start"))
        if request.centre_id and (org is None or org.centre(request.centre_id) is None):
            errors.append(FieldError("centre_id", f"unknown centre {request.centre_id}"))
        if request.region_id and (org is None or request.region_id not in org.regions):
            errors.append(FieldError("region_id", f"unknown region {request.region_id}"))
        if errors:
            raise InvalidArgument(errors)
        assert start is not None and end is not None
        stats = services.statistics(
            start,
            end,
            principal,
            (self._clients.cards_for(principal), self._clients.families_for(principal)),
            (
                self._clients.cards_of_organisation(principal.organisation),
                self._clients.families_of_organisation(principal.organisation),
            ),
            org=org,
            settings=self._settings(principal),
            centre_id=request.centre_id or None,
            region_id=request.region_id or None,
        )
        return clients_pb2.GetStatisticsResponse(
            clients=report_message(stats.clients), families=report_message(stats.families)
        )

    # ------------------------------------------------------------------ match proposals

    def _proposal(self, p: MatchProposal) -> clients_pb2.MatchProposal:
        f = p.referral
        message = clients_pb2.MatchProposal(
            proposal_id=p.proposal_id,
            client_id=p.client_id,
            referral_id=f.referral_id,
            referring_centre_id=f.centre_id,
            given_name=f.given_name,
            family_name=f.family_name,
            date_of_birth=f.date_of_birth.isoformat(),
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

    def ListMatchProposals(
        self, request: clients_pb2.ListMatchProposalsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListMatchProposalsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        status = _PROPOSAL_STATUS_OF.get(request.status)
        if request.status and status is None:
            raise InvalidArgument([FieldError("status", f"unknown status {request.status}")])
        found = services.list_match_proposals(
            principal,
            self._clients.proposals_for(principal),
            status=status.value if status else None,
            offset=offset,
            limit=limit,
        )
        return clients_pb2.ListMatchProposalsResponse(
            proposals=[self._proposal(p) for p in found],
            next_page_token=next_token(offset, limit, len(found)),
        )

    def GetMatchProposal(
        self, request: clients_pb2.GetMatchProposalRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetMatchProposalResponse:
        principal = current_principal()
        if not request.proposal_id:
            raise InvalidArgument([FieldError("proposal_id", "is required")])
        proposal = services.read_match_proposal(
            request.proposal_id,
            principal,
            self._clients.proposals_for(principal),
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace_id=_trace_id(),
        )
        return clients_pb2.GetMatchProposalResponse(proposal=self._proposal(proposal))

    def ConfirmMatchProposal(
        self, request: clients_pb2.ConfirmMatchProposalRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ConfirmMatchProposalResponse:
        principal = current_principal()
        errors: list[FieldError] = []
        if not request.proposal_id:
            errors.append(FieldError("proposal_id", "is required"))
        merge: list[str] = []
        for i, value in enumerate(request.merge_details):
            name = _DETAIL_OF.get(value)
            if name is None:
                errors.append(FieldError(f"merge_details[{i}]", "phone, e-mail or address"))
            else:
                merge.append(name)
        if errors:
            raise InvalidArgument(errors)
        proposal, card = services.confirm_match_proposal(
            request.proposal_id,
            tuple(merge),
            request.share_with_referring_centre,
            principal,
            self._clients.proposals_for(principal),
            self._clients.cards_for(principal),
            consultations=self._clients.consultations_of(principal.organisation),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.ConfirmMatchProposalResponse(
            proposal=self._proposal(proposal), client=self._msg(card)
        )

    def RejectMatchProposal(
        self, request: clients_pb2.RejectMatchProposalRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RejectMatchProposalResponse:
        principal = current_principal()
        if not request.proposal_id:
            raise InvalidArgument([FieldError("proposal_id", "is required")])
        proposal = services.reject_match_proposal(
            request.proposal_id,
            request.reason,
            principal,
            self._clients.proposals_for(principal),
            self._clients.cards_for(principal),
            self._clients.cards_of_organisation(principal.organisation),
            settings=self._settings(principal),
            consultations=self._clients.consultations_of(principal.organisation),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.RejectMatchProposalResponse(proposal=self._proposal(proposal))

    # ------------------------------------------------------------------ sharing requests

    def _sharing(self, r: SharingRequest) -> clients_pb2.SharingRequest:
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

    def ListSharingRequests(
        self, request: clients_pb2.ListSharingRequestsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListSharingRequestsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        status = _SHARING_STATUS_OF.get(request.status)
        if request.status and status is None:
            raise InvalidArgument([FieldError("status", f"unknown status {request.status}")])
        found = services.list_sharing_requests(
            principal,
            self._clients.sharing_for(principal),
            status=status.value if status else None,
            offset=offset,
            limit=limit,
        )
        return clients_pb2.ListSharingRequestsResponse(
            requests=[self._sharing(r) for r in found],
            next_page_token=next_token(offset, limit, len(found)),
        )

    def DecideSharingRequest(
        self, request: clients_pb2.DecideSharingRequestRequest, context: grpc.ServicerContext
    ) -> clients_pb2.DecideSharingRequestResponse:
        principal = current_principal()
        if not request.request_id:
            raise InvalidArgument([FieldError("request_id", "is required")])
        decided, card = services.decide_sharing_request(
            request.request_id,
            request.accept,
            principal,
            self._clients.sharing_for(principal),
            self._clients.cards_for(principal),
            self._clients.cards_of_organisation(principal.organisation),
            families_repo=self._clients.families_of_organisation(principal.organisation),
            now=self._clients.clock(),
            trace=current_trace_carrier(),
            trace_id=_trace_id(),
        )
        return clients_pb2.DecideSharingRequestResponse(
            request=self._sharing(decided), client=self._msg(card)
        )

    # ------------------------------------------------------------------ audit trail

    def ListAuditEntries(
        self, request: clients_pb2.ListAuditEntriesRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListAuditEntriesResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        offset, limit = page_window(request.page_size, request.page_token)
        entries = services.list_audit_entries(
            request.client_id,
            principal,
            self._clients.cards_for(principal),
            self._clients.cards_of_organisation(principal.organisation),
            offset=offset,
            limit=limit,
            now=self._clients.clock(),
            trace_id=_trace_id(),
        )
        return clients_pb2.ListAuditEntriesResponse(
            entries=[
                clients_pb2.AuditEntry(
                    client_id=e.client_id, subject=e.subject, action=e.action, at=_ts(e.at),
                    trace_id=e.trace_id or "",
                )
                for e in entries
            ],
            next_page_token=next_token(offset, limit, len(entries)),
        )  # fmt: skip


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


def register(server: grpc.Server) -> Iterable[str]:
    clients_pb2_grpc.add_ClientsServiceServicer_to_server(ClientsServicer(bootstrap()), server)
    return [clients_pb2.DESCRIPTOR.services_by_name["ClientsService"].full_name]


__all__ = ["ClientsServicer", "register", "report_message", "to_message"]
