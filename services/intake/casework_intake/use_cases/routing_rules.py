"""Routing rules: saved as numbered versions, one published at a time, and a dry run
that answers who would get a referral (by the library's one routing algorithm)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from casework.intake.v1 import events_pb2
from casework_common import errors as common
from casework_common.errors import FailedPrecondition, InvalidArgument, raise_if_any
from casework_common.organisation import Organisation
from casework_common.routing import Case, Decision, Rule, route
from casework_common.unit_of_work import UnitOfWork
from casework_intake.adapters.routing_rules import RoutingRulesRepository
from casework_intake.domain import routing_rules
from casework_intake.domain.routing_rules import RuleSet
from casework_intake.use_cases._common import event

ROUTING_RULES_PUBLISHED = events_pb2.RoutingRulesPublished


@dataclass(frozen=True)
class SaveRoutingRules:
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class PublishRoutingRules:
    version: int


@dataclass(frozen=True)
class DryRunRouting:
    """Who would get a referral like `case`: under saved `version`, or (0) the rules in
    effect."""

    version: int
    case: Case


def save_routing_rules(
    command: SaveRoutingRules,
    uow: UnitOfWork,
    organisation: Organisation,
    repository: RoutingRulesRepository,
) -> RuleSet:
    rules = list(command.rules)
    raise_if_any(routing_rules.validate(rules, organisation))
    rule_set = RuleSet(
        organisation=organisation.id,
        version=repository.next_version(),
        rules=tuple(rules),
        saved_by=uow.principal.subject,
        saved_at=uow.now,
    )
    repository.add(rule_set)
    return rule_set


def publish_routing_rules(
    command: PublishRoutingRules,
    uow: UnitOfWork,
    organisation: Organisation,
    repository: RoutingRulesRepository,
) -> RuleSet:
    version = command.version
    if version < 1:
        raise InvalidArgument([common.FieldError("version", "must be 1 or higher")])
    rule_set = repository.get(version)
    current = repository.published()
    if current is not None and current.version >= version:
        if current.version == version:
            return rule_set  # published already: a retry
        raise FailedPrecondition(
            f"version {current.version} is in effect; only a newer version can be published"
            " (save the older rules again to go back)"
        )
    # The organisation may have changed since the rules were saved (a worker left).
    raise_if_any(routing_rules.validate(list(rule_set.rules), organisation))
    published = dataclasses.replace(
        rule_set, published_at=uow.now, published_by=uow.principal.subject
    )
    payload = routing_rules.published_event_payload(published)
    repository.mark_published(
        published, event(ROUTING_RULES_PUBLISHED, organisation.id, uow, payload)
    )
    return published


def dry_run_routing(
    command: DryRunRouting,
    organisation: Organisation,
    repository: RoutingRulesRepository,
) -> tuple[int, Decision]:
    """Who would get a referral like the command's case: under a saved version, or (0)
    the rules in effect (the published version, else the organisation file's)."""
    raise_if_any(routing_rules.validate_case(command.case, organisation))
    if command.version < 0:
        raise InvalidArgument([common.FieldError("version", "must be 0 or higher")])
    if command.version:
        rules = repository.get(command.version).rules
        tried = command.version
    else:
        published = repository.published()
        rules = published.rules if published else organisation.routing_rules
        tried = published.version if published else 0
    return tried, route(rules, organisation, command.case)
