"""Values kept on a client's card besides identity and status: contact points,
responsible workers, consent records, free notes and recorded contacts.

Pure data; the rules that change them live in ``domain.details``. Consent records,
notes and contacts are append-only: nothing here is ever edited in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum


class ContactKind(Enum):
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True)
class ContactPoint:
    """One phone number or e-mail address of the client, with the worker's label
    ("mobile", "daughter", "work", ...)."""

    kind: ContactKind
    value: str
    label: str = ""


@dataclass(frozen=True)
class ResponsibleWorker:
    worker_id: str
    assigned_at: datetime
    assigned_by: str


class ConsentPurpose(Enum):
    DATA_PROCESSING = "data_processing"
    #: Being called later to be asked about the service (feedback calls).
    FEEDBACK_CALLS = "feedback_calls"
    #: Sharing the client's data with a named partner organisation.
    SHARING_WITH_PARTNER = "sharing_with_partner"


class ConsentAction(Enum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ConsentRecord:
    """One consent given or withdrawn. Records are only ever appended: the state of a
    consent is its latest record."""

    consent_id: str
    purpose: ConsentPurpose
    #: The partner organisation, for SHARING_WITH_PARTNER only.
    partner: str
    action: ConsentAction
    on: date
    recorded_by: str
    recorded_at: datetime
    document_ref: str = ""
    note: str = ""

    @property
    def key(self) -> tuple[ConsentPurpose, str]:
        """What the consent is about: the purpose, and the partner when shared."""
        return (self.purpose, " ".join(self.partner.casefold().split()))


@dataclass(frozen=True)
class Note:
    """A worker's free note. Never edited: a correction is a new note naming the old one."""

    note_id: str
    author: str
    at: datetime
    text: str
    corrects_note_id: str = ""


class ContactChannel(Enum):
    PHONE = "phone"
    IN_PERSON = "in_person"
    HOME_VISIT = "home_visit"
    EMAIL = "email"
    VIDEO_CALL = "video_call"
    LETTER = "letter"
    MESSAGE = "message"
    OTHER = "other"


@dataclass(frozen=True)
class ContactRecord:
    """A contact with the client (it moves the card's last-contact date)."""

    contact_id: str
    on: date
    channel: ContactChannel
    worker_id: str
    summary: str
    recorded_at: datetime
    recorded_by: str
