"""Intake's aggregates in the intake database (mongoengine), one module per aggregate;
this module is their one import point.

Repositories built for a caller filter by organisation and the caller's centres
(`casework_common.repository.ScopedRepository`); the events process uses unscoped
ones (centres None) for its timers.
"""

from casework_intake.adapters.consultations import (
    ConsultationDocument,
    ConsultationRepository,
)
from casework_intake.adapters.forms import (
    FormAnswersDocument,
    FormsRepository,
    FormVersionDocument,
    self_fill_answers_id,
)
from casework_intake.adapters.outreach import (
    OutreachDocument,
    OutreachRepository,
    outreach_needing_outcome,
    outreach_needing_reminder,
)
from casework_intake.adapters.projects import (
    ProjectDocument,
    ProjectRepository,
    projects_with_overdue_tasks,
)
from casework_intake.adapters.referrals import (
    Counter,
    ReferralDocument,
    ReferralRepository,
    organisation_of_referral,
    overdue_referrals,
    referral_centre,
)
from casework_intake.adapters.routing_rules import RoutingRuleSetDocument, RoutingRulesRepository
from casework_intake.adapters.web_form import (
    count_submission,
    forget_windows_before,
)

__all__ = [
    "ConsultationDocument",
    "ConsultationRepository",
    "Counter",
    "FormAnswersDocument",
    "FormVersionDocument",
    "FormsRepository",
    "OutreachDocument",
    "OutreachRepository",
    "ProjectDocument",
    "ProjectRepository",
    "ReferralDocument",
    "ReferralRepository",
    "RoutingRuleSetDocument",
    "RoutingRulesRepository",
    "count_submission",
    "forget_windows_before",
    "organisation_of_referral",
    "outreach_needing_outcome",
    "outreach_needing_reminder",
    "overdue_referrals",
    "projects_with_overdue_tasks",
    "referral_centre",
    "self_fill_answers_id",
]
