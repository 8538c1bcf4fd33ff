"""The event catalogue is one thing: the payload messages in the protos (each naming its
routing key), the keys the runtime code publishes and binds its queues to, and the
README's Events table. A key without a contract, a contract nobody publishes, a queue
the README forgets, or a routing key moved away from its message fails here."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

from casework_common import contracts
from casework_common.config import SERVICES

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(rf"^(?:{'|'.join(SERVICES)})\.[a-z_]+\.[a-z_]+(?:\.v[0-9]+)?$")
# Consumed today, published by nothing in this repository yet: documents is a skeleton.
NOT_BUILT_YET: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KeyLiteral:
    """A routing key written in runtime code (without `.vN` the envelope adds v1)."""

    key: str
    path: Path
    line: int
    bound: bool  # in an event_handler(queue, [keys]) binding


def runtime_modules() -> list[Path]:
    packages = sorted(ROOT.glob("services/*/casework_*"))
    files = [p for package in packages for p in sorted(package.rglob("*.py"))]
    library = ROOT / "lib" / "casework_common"
    files += [p for p in sorted(library.rglob("*.py")) if "testing" not in p.parts]
    return files


def _versioned(key: str) -> str:
    return key if re.search(r"\.v[0-9]+$", key) else f"{key}.v1"


def bindings() -> dict[str, list[str]]:
    """Queue name -> routing keys, from every `@event_handler(queue, [keys])`."""
    found: dict[str, list[str]] = {}
    for path in sorted(ROOT.glob("services/*/casework_*/entrypoints/events.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "event_handler"
                and len(node.args) == 2
            ):
                queue, keys = node.args
                assert isinstance(queue, ast.Constant) and isinstance(keys, ast.List), path
                found[queue.value] = [k.value for k in keys.elts if isinstance(k, ast.Constant)]
    return found


def key_literals() -> list[KeyLiteral]:
    literals = []
    for path in runtime_modules():
        tree = ast.parse(path.read_text())
        bound_nodes = {
            id(k)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "event_handler"
            for arg in node.args
            if isinstance(arg, ast.List)
            for k in arg.elts
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and KEY.match(str(node.value)):
                literals.append(
                    KeyLiteral(
                        _versioned(node.value),
                        path.relative_to(ROOT),
                        node.lineno,
                        id(node) in bound_nodes,
                    )
                )
    return literals


def message_references() -> set[str]:
    """Keys whose payload message a service's own runtime code names outside its
    nameko entry point (`events_pb2.ClientMerged`): producers build the message, so
    naming it is publishing it; a consumer reads it in `entrypoints/events.py`."""
    by_service: dict[str, dict[str, str]] = {}
    for key, message in contracts.registry().items():
        by_service.setdefault(key.split(".")[0], {})[message.DESCRIPTOR.name] = key
    keys = set()
    for path in runtime_modules():
        parts = path.relative_to(ROOT).parts
        if parts[0] != "services" or parts[-2:] == ("entrypoints", "events.py"):
            continue
        messages = by_service.get(parts[1], {})
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "events_pb2"
                and node.attr in messages
            ):
                keys.add(messages[node.attr])
    return keys


def published_by_code() -> set[str]:
    """Keys written outside a queue binding in their own service's package (a consumer
    comparing `envelope.type` to another service's key does not publish it), and keys
    whose message the service's own code builds."""
    literals = {
        lit.key
        for lit in key_literals()
        if not lit.bound and lit.path.parts[:2] == ("services", lit.key.split(".")[0])
    }
    return literals | message_references()


def catalogue_rows() -> list[tuple[str, str, str, str]]:
    """(routing key, producer, consumers, payload message), as the README shows them."""
    queues = bindings()
    rows = []
    order = {service: n for n, service in enumerate(SERVICES)}
    by_service = sorted(
        contracts.registry().items(), key=lambda kv: (order[kv[0].split(".")[0]], kv[0])
    )
    for key, message in by_service:
        service = key.split(".")[0]
        producer = f"{service} (not built yet)" if key in NOT_BUILT_YET else service
        consumers = sorted(q for q, keys in queues.items() if key in keys)
        rows.append(
            (
                f"`{key}`",
                producer,
                ", ".join(f"`{q}`" for q in consumers) or "none yet",
                f"`{message.DESCRIPTOR.full_name}`",
            )
        )
    return rows


def readme_rows() -> list[tuple[str, ...]]:
    text = (ROOT / "README.md").read_text()
    assert "\n## Events\n" in text, "README has no Events section"
    section = text.split("\n## Events\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = tuple(c.strip() for c in line.strip().strip("|").split("|"))
        if line.startswith("| `") and len(cells) == 4:
            rows.append(cells)
    return rows


def test_every_routing_key_in_the_runtime_code_has_a_payload_message() -> None:
    registry = contracts.registry()
    assert key_literals(), "no routing keys found in the runtime code: the scan is broken"
    missing = [f"{lit.path}:{lit.line} {lit.key}" for lit in key_literals()
               if lit.key not in registry]  # fmt: skip
    assert missing == []


def test_every_queue_is_bound_only_to_keys_with_a_payload_message() -> None:
    queues = bindings()
    assert queues, "no event_handler bindings found: the scan is broken"
    unknown = {q: k for q, keys in queues.items() for k in keys if k not in contracts.registry()}
    assert unknown == {}


def test_every_payload_message_is_published_by_its_service_or_marked_not_built_yet() -> None:
    published = published_by_code()
    registry = set(contracts.registry())
    assert registry - published == NOT_BUILT_YET
    assert published <= registry


def test_a_key_marked_not_built_yet_is_still_consumed() -> None:
    consumed = {k for keys in bindings().values() for k in keys}
    assert consumed >= NOT_BUILT_YET


def test_the_readme_events_catalogue_is_the_protos_and_the_queue_bindings() -> None:
    assert readme_rows() == catalogue_rows()


def test_every_field_of_every_event_message_is_commented() -> None:
    field = re.compile(r"^\s+(?:repeated\s+)?[\w.]+\s+\w+\s*=\s*\d+;")
    uncommented = []
    for proto in sorted((ROOT / "protos").glob("casework/*/v1/events.proto")):
        lines = proto.read_text().splitlines()
        for n, line in enumerate(lines):
            if field.match(line) and not lines[n - 1].strip().startswith("//"):
                uncommented.append(f"{proto.relative_to(ROOT)}:{n + 1}")
    assert uncommented == []


def baseline_routing_keys() -> dict[str, str]:
    """Message full name -> routing key, as recorded in protos/baseline.binpb."""
    # A buf image is wire-compatible with a FileDescriptorSet; importing the registry
    # registered the option, so the recorded options read back as routing keys.
    image = descriptor_pb2.FileDescriptorSet.FromString(
        (ROOT / "protos" / "baseline.binpb").read_bytes()
    )
    routing_key = contracts.ROUTING_KEY_OPTION
    keys = {}
    for file in image.file:
        for message in file.message_type:
            if message.options.HasExtension(routing_key):
                keys[f"{file.package}.{message.name}"] = message.options.Extensions[routing_key]
    return keys


def test_no_message_of_the_baseline_changed_or_lost_its_routing_key() -> None:
    """buf breaking does not compare custom options; a moved key strands consumers."""
    recorded = baseline_routing_keys()
    assert recorded, "the baseline records no event messages"
    now = {m.DESCRIPTOR.full_name: k for k, m in contracts.registry().items()}
    assert {name: now.get(name) for name in recorded} == recorded
