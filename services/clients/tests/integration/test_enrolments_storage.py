"""Enrolments stored on the card and listed by project, against a real database (the
`mongo_db` fixture: the development wire server, or whatever MONGO_URI names)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from casework_clients.adapters.repository import ClientDocument, ClientRepository
from casework_clients.domain.cards import NewPerson, new_card
from casework_clients.domain.enrolments import EndEnrolment, EnrolClient
from casework_clients.domain.projects import SettingsBook, define_project
from casework_clients.domain.status import StatusSettings
from casework_clients.use_cases import enrolments
from casework_common.auth import Principal
from casework_common.unit_of_work import UnitOfWork

pytestmark = pytest.mark.usefixtures("mongo_db")

ORG = "org-demo"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
ANNA = Principal(
    ORG, "w-anna", "worker", frozenset({"ctr-north-town"}), frozenset({"case_worker"}), frozenset()
)
BOOK = SettingsBook(
    StatusSettings(),
    {
        p: define_project(p, ORG, p, StatusSettings(), NOW.date(), "w-admin", NOW)
        for p in ("prj-housing", "prj-debt")
    },
)


def stored(client_id: str, family: str, born: date, project_id: str) -> None:
    person = NewPerson(ORG, "Jana", family, born, "", "", "", "reg-north", "ctr-north-town",
                       "senior", "", project_id=project_id)  # fmt: skip
    card = new_card(person, client_id=client_id, settings=StatusSettings(), actor="w-anna", now=NOW)
    ClientRepository(ORG, None).save(card, [])


def listed(project_id: str) -> set[str]:
    page = ClientRepository(ORG, ANNA.centres).page(
        centre_id=None, offset=0, limit=50, project_id=project_id
    )
    return {c.client_id for c in page}


def test_enrolments_are_stored_with_the_card_and_listed_by_open_project() -> None:
    stored("cl-both", "Malá", date(1950, 1, 1), "prj-housing")
    stored("cl-left", "Horváthová", date(1960, 2, 2), "prj-debt")
    unit = UnitOfWork(ANNA, now=NOW)
    cards = ClientRepository(ORG, ANNA.centres)
    enrolments.enrol_client(EnrolClient("cl-both", "prj-debt", "", True), unit, cards,
                            settings=BOOK)  # fmt: skip
    enrolments.end_enrolment(EndEnrolment("cl-left", "prj-debt", "", "moved"), unit, cards,
                             settings=BOOK)  # fmt: skip

    both = cards.get("cl-both")
    assert [(e.project_id, e.since, e.until, e.lead, e.enrolled_by) for e in both.enrolments] == [
        ("prj-housing", NOW.date(), None, False, "w-anna"),
        ("prj-debt", NOW.date(), None, True, "w-anna"),
    ]
    assert both.project_id == "prj-debt"
    [left] = cards.get("cl-left").enrolments
    assert (left.until, left.end_reason, left.ended_by) == (NOW.date(), "moved", "w-anna")
    assert listed("prj-debt") == {"cl-both"}
    assert listed("prj-housing") == {"cl-both"}


def test_a_card_stored_before_enrolments_were_kept_is_listed_by_its_project() -> None:
    stored("cl-old", "Ozola", date(1970, 3, 3), "prj-housing")
    # As written before enrolments: the project alone.
    ClientDocument._get_collection().update_one(
        {"_id": "cl-old"}, {"$unset": {"enrolments": "", "open_project_ids": ""}}
    )
    raw = ClientDocument._get_collection().find_one({"_id": "cl-old"})
    assert raw is not None and "open_project_ids" not in raw
    assert listed("prj-housing") == {"cl-old"}
    assert listed("prj-debt") == set()
    [legacy] = ClientRepository(ORG, ANNA.centres).get("cl-old").enrolment_record
    assert (legacy.project_id, legacy.lead) == ("prj-housing", True)
