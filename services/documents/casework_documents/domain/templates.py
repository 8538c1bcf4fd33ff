"""Templates: the organisation's own Word documents with placeholders, and what a template
may say.

A template is untrusted input written by whoever administers an organisation. It may
print fields of the catalogue, loop over the catalogue's lists (goals as a table),
test conditions and apply a few harmless filters. Everything else Jinja can do (calling
functions, reaching attributes that start with `_`, arithmetic that multiplies text or
numbers into something huge, setting variables, macros, imports) is refused when the
template is uploaded, so that the sandboxed render never even meets it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from casework_common.errors import FieldError, InvalidArgument


class TemplateKind(enum.Enum):
    CONTRACT = "contract"
    SERVICE_PLAN = "service_plan"
    CONSENT = "consent"
    CLIENT_INFORMATION_PACK = "client_information_pack"
    DECISION = "decision"
    REFERRAL_LETTER = "referral_letter"


# The fields a template may print: dotted paths into the context a render receives.
# A list's items are named `<list>[]` (a loop variable over `goals` is a goal).
CLIENT_FIELDS = (
    "client.client_id",
    "client.given_name",
    "client.family_name",
    "client.full_name",
    "client.date_of_birth",
    "client.address",
    "client.phone",
    "client.email",
    "client.client_type",
)
# What every kind of document may print: the card, who issues it, the document itself,
# the signatures and how they were given.
COMMON_FIELDS: frozenset[str] = frozenset(
    {
        *CLIENT_FIELDS,
        "organisation.organisation_id",
        "organisation.name",
        "centre.centre_id",
        "centre.name",
        "worker.worker_id",
        "worker.name",
        "document.document_id",
        "document.created_on",
        "today",
        "client_signature",
        "worker_signature",
        "signing.method",
        "signing.signed_at",
    }
)
CONTRACT_FIELDS = frozenset(
    {"contract.contract_id", "contract.signed_on", "contract.valid_from", "contract.valid_until"}
)
# A goal's deadline is its target date (both names print it); its actions are one line
# each: what, who provides it, how often, by when.
GOAL_FIELDS = frozenset(
    {"goals", "goals[].description", "goals[].deadline", "goals[].target_date", "goals[].actions"}
)
DECISION_FIELDS = frozenset({"decision.granted", "decision.reason"})
# The catalogue of each kind of template: a consent has no contract terms to print, a
# referral letter no decision.
KIND_FIELDS: dict[TemplateKind, frozenset[str]] = {
    TemplateKind.CONTRACT: COMMON_FIELDS | CONTRACT_FIELDS | GOAL_FIELDS,
    TemplateKind.SERVICE_PLAN: COMMON_FIELDS | GOAL_FIELDS,
    TemplateKind.CONSENT: COMMON_FIELDS,
    TemplateKind.CLIENT_INFORMATION_PACK: COMMON_FIELDS,
    TemplateKind.DECISION: COMMON_FIELDS | DECISION_FIELDS,
    TemplateKind.REFERRAL_LETTER: COMMON_FIELDS,
}
CATALOGUE: frozenset[str] = frozenset().union(*KIND_FIELDS.values())


def catalogue_for(kind: TemplateKind | None) -> frozenset[str]:
    """The fields a template of `kind` may print (every kind's when None)."""
    return KIND_FIELDS[kind] if kind is not None else CATALOGUE


# Lists a template may loop over, and nothing else: looping over a text or a number
# would let a template expand output at will.
LISTS = frozenset(name for name in CATALOGUE if f"{name}[]" in {c.split(".")[0] for c in CATALOGUE})
FILTERS = frozenset(
    {"upper", "lower", "title", "capitalize", "default", "d", "length", "trim", "e", "escape"}
)
TESTS = frozenset({"defined", "undefined", "none", "true", "false", "string", "number"})
# Comparisons, boolean logic and concatenation (`~`) are all a document needs.
ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr,
    nodes.Getitem, nodes.For, nodes.If, nodes.Compare, nodes.Operand, nodes.And, nodes.Or,
    nodes.Not, nodes.Concat, nodes.Filter, nodes.Test, nodes.CondExpr, nodes.List, nodes.Tuple,
    nodes.Neg, nodes.Pos,
)  # fmt: skip
MAX_TEMPLATE_SOURCE = 2_000_000
SIGNATURE_FIELDS = ("client_signature", "worker_signature")


def sandbox_environment() -> SandboxedEnvironment:
    """The Jinja environment every template is parsed and rendered in: sandboxed (no
    `_`-attributes, no unsafe methods) and with no globals (no `range`, `lipsum`,
    `cycler`, `namespace`, `dict`)."""
    env = SandboxedEnvironment(autoescape=False)
    env.globals.clear()
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    env.tests = {name: t for name, t in env.tests.items() if name in TESTS}
    return env


@dataclass(frozen=True)
class TemplateVerdict:
    """What a template uses; `unknown` and `forbidden` empty means it may be stored."""

    placeholders: frozenset[str]
    unknown: frozenset[str] = frozenset()
    forbidden: tuple[str, ...] = ()

    @property
    def acceptable(self) -> bool:
        return not self.unknown and not self.forbidden


class _Walker:
    def __init__(self) -> None:
        self.used: set[str] = set()
        self.forbidden: list[str] = []

    def walk(self, node: nodes.Node, scope: Mapping[str, str]) -> None:
        if not isinstance(node, ALLOWED_NODES):
            self.forbid(f"{_describe(node)} is not allowed in a template", node)
            return
        if isinstance(node, nodes.For):
            self.walk_for(node, scope)
            return
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            self.forbid(f"filter {node.name!r} is not allowed", node)
        if isinstance(node, nodes.Test) and node.name not in TESTS:
            self.forbid(f"test {node.name!r} is not allowed", node)
        if isinstance(node, nodes.Getattr | nodes.Name | nodes.Getitem):
            path = self.path_of(node, scope)
            if path is not None:
                self.used.add(path)
                return
        for child in node.iter_child_nodes():
            self.walk(child, scope)

    def walk_for(self, node: nodes.For, scope: Mapping[str, str]) -> None:
        if node.recursive:
            self.forbid("recursive loops are not allowed", node)
            return
        iterable = self.path_of(node.iter, scope)
        if iterable is None:
            self.walk(node.iter, scope)
            return
        self.used.add(iterable)
        if iterable not in LISTS:
            self.forbid(
                f"a loop may only go over a list ({', '.join(sorted(LISTS))}), not {iterable}", node
            )
            return
        if not isinstance(node.target, nodes.Name):
            self.forbid("a loop names one item", node)
            return
        inner = {**scope, node.target.name: f"{iterable}[]"}
        for child in node.body:
            self.walk(child, inner)
        for child in node.else_:
            self.walk(child, scope)
        if node.test is not None:
            self.walk(node.test, inner)

    def path_of(self, node: nodes.Node, scope: Mapping[str, str]) -> str | None:
        """The dotted path of a field reference, or None when it is not one."""
        if isinstance(node, nodes.Name):
            if node.name == "loop":
                return "loop"
            return scope.get(node.name, node.name)
        if isinstance(node, nodes.Getattr):
            if node.attr.startswith("_"):
                self.forbid(f"attribute {node.attr!r} reaches into Python internals", node)
                return "<internal>"
            base = self.path_of(node.node, scope)
            if base is None:
                return None
            if base == "loop":
                return "loop" if node.attr in LOOP_ATTRIBUTES else f"loop.{node.attr}"
            return f"{base}.{node.attr}"
        if (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            return self.path_of(nodes.Getattr(node.node, node.arg.value, "load"), scope)
        return None

    def forbid(self, why: str, node: nodes.Node) -> None:
        self.forbidden.append(f"line {node.lineno}: {why}" if node.lineno else why)


LOOP_ATTRIBUTES = frozenset({"index", "index0", "first", "last", "length", "revindex"})


def _describe(node: nodes.Node) -> str:
    names = {
        nodes.Call: "calling a function",
        nodes.Pow: "the power operator",
        nodes.Mul: "multiplication",
        nodes.Assign: "setting a variable",
        nodes.Macro: "a macro",
        nodes.Import: "an import",
        nodes.Include: "an include",
        nodes.Extends: "extends",
    }
    for kind, name in names.items():
        if isinstance(node, kind):
            return name
    return type(node).__name__


def inspect_source(source: str, kind: TemplateKind | None = None) -> TemplateVerdict:
    """What a template's Jinja source (docxtpl's patched document XML) uses and whether it
    may be stored as a template of `kind`. A syntax error is reported as a forbidden
    construct with its line."""
    if len(source) > MAX_TEMPLATE_SOURCE:
        return TemplateVerdict(frozenset(), forbidden=("the template's text is too large",))
    try:
        tree = sandbox_environment().parse(source)
    except TemplateSyntaxError as exc:
        return TemplateVerdict(frozenset(), forbidden=(f"line {exc.lineno}: {exc.message}",))
    walker = _Walker()
    walker.walk(tree, {})
    used = frozenset(p for p in walker.used if p != "<internal>" and p != "loop")
    known = catalogue_for(kind)
    unknown = frozenset(p for p in used if p not in known)
    return TemplateVerdict(used, unknown, tuple(dict.fromkeys(walker.forbidden)))


def refuse_unless_acceptable(verdict: TemplateVerdict) -> None:
    errors: list[FieldError] = []
    if verdict.forbidden:
        errors.append(FieldError("content", "refused: " + "; ".join(verdict.forbidden)))
    if verdict.unknown:
        errors.append(
            FieldError("content", "unknown placeholders: " + ", ".join(sorted(verdict.unknown)))
        )
    if errors:
        raise InvalidArgument(errors)


@dataclass(frozen=True)
class TemplateVersion:
    """One uploaded version of an organisation's template; versions are never replaced."""

    template_id: str
    organisation: str
    kind: TemplateKind
    name: str
    version: int
    sha256: str
    size: int
    placeholders: frozenset[str]
    uploaded_by: str
    uploaded_at: datetime

    @property
    def client_fields(self) -> tuple[str, ...]:
        return tuple(sorted(p for p in self.placeholders if p in CLIENT_FIELDS))


def missing_fields(placeholders: Iterable[str], context: Mapping[str, Any]) -> list[str]:
    """The fields a template prints that the context has no value for (empty counts as
    missing), in order, so that one answer lists every gap on the card."""
    missing = []
    for path in sorted(set(placeholders)):
        if "[]" in path or path in SIGNATURE_FIELDS or path.startswith(("signing.", "decision.")):
            continue
        value: Any = context
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None or value == "":
            missing.append(path)
    return missing


SAMPLE_CONTEXT: Mapping[str, Any] = {
    "client": {
        "client_id": "cl-sample",
        "given_name": "Žofia",
        "family_name": "Ďurišová",
        "full_name": "Žofia Ďurišová",
        "date_of_birth": "1961-03-14",
        "address": "Hlavná 12, 040 01 Košice",
        "phone": "+421 900 123 456",
        "email": "zofia@example.org",
        "client_type": "senior",
    },
    "organisation": {"organisation_id": "org-sample", "name": "Centrum Nádej"},
    "centre": {"centre_id": "ctr-sample", "name": "Centrum Sever"},
    "worker": {"worker_id": "w-sample", "name": "Анна Петрова"},
    "contract": {
        "contract_id": "ct-sample",
        "signed_on": "2026-01-05",
        "valid_from": "2026-01-05",
        "valid_until": "2026-12-31",
    },
    "document": {"document_id": "doc-sample", "created_on": "2026-01-05"},
    "decision": {"granted": True, "reason": ""},
    "goals": [
        {
            "description": "Find stable housing",
            "deadline": "2026-03-31",
            "target_date": "2026-03-31",
            "actions": "Weekly visits (volunteer Jana Nová, 1 per week, by 2026-03-31)",
        },
        {
            "description": "Vybaviť občiansky preukaz",
            "deadline": "2026-02-15",
            "target_date": "2026-02-15",
            "actions": "Sprevádzanie na úrad (worker Анна Петрова, by 2026-02-10)",
        },
    ],
    "today": "2026-01-05",
    "client_signature": "",
    "worker_signature": "",
    "signing": {"method": "drawn", "signed_at": "2026-01-05T10:00:00Z"},
}


@dataclass(frozen=True)
class RenderLimits:
    """Bounds of one render of an untrusted template."""

    seconds: float = 20.0
    memory_bytes: int = 1024 * 1024 * 1024
    output_bytes: int = 20 * 1024 * 1024
    extra: Mapping[str, Any] = field(default_factory=dict)
