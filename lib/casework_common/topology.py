"""`python -m casework_common.topology [SERVICE ...]`: declare, before anything
publishes, every consumer queue of the services (all of them unless named) with its
bindings, retry exchange and delay tiers.

An event published while no queue is bound for it goes to `casework.events.unrouted`
(`make replay ARGS=unrouted` brings it back); declaring the queues first means a
service's events process that has never run still finds its events waiting. `make run`
runs this step first; `deploy/` runs it as the `casework-topology` Job.

The queues are read from the services' declared handlers (`@event_handler(queue, keys)`
on each service's events class), the source the README's Events catalogue is checked
against. Each service's queues are declared as that service's own broker user:
`AMQP_URI_<SERVICE>` when set, else `AMQP_URI`.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from kombu import Queue

from casework_common.config import SERVICES, load_settings
from casework_common.events_runtime import EventConsumer, EventsService, exchange_name
from casework_common.messaging import Publisher, QueueMismatch, retry_delays


def events_class(service: str) -> type[EventsService]:
    """The service's events class (its nameko service), by its `casework_service`."""
    module = importlib.import_module(f"casework_{service}.entrypoints.events")
    for value in vars(module).values():
        if (
            inspect.isclass(value)
            and issubclass(value, EventsService)
            and value.casework_service == service
        ):
            return value
    raise LookupError(f"casework_{service}.entrypoints.events declares no events class")


def consumer_queues(service: str) -> list[Queue]:
    """The queues of the service's event handlers, each with its bindings."""
    queues: dict[str, Queue] = {}
    for _, member in inspect.getmembers(events_class(service)):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventConsumer):
                queues[entrypoint.queue.name] = entrypoint.queue
    return [queues[name] for name in sorted(queues)]


@dataclass(frozen=True)
class Declared:
    service: str
    queue_type: str
    queues: tuple[str, ...]


def declare(service: str, amqp_uri: str, exchange: str | None = None) -> Declared:
    """Declare one service's consumer queues as `amqp_uri`'s user; raises QueueMismatch
    for a queue that exists with other arguments."""
    queues = consumer_queues(service)
    publisher = Publisher(amqp_uri, exchange or exchange_name())
    try:
        publisher.connect()
        kind = publisher.declare_queues(queues, retry_delays())
    finally:
        publisher.close()
    return Declared(service, kind, tuple(queue.name for queue in queues))


def service_uri(service: str, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get(f"AMQP_URI_{service.upper()}") or load_settings(service).amqp_uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("services", nargs="*", choices=[[], *SERVICES], metavar="SERVICE")
    args = parser.parse_args(argv)
    for service in args.services or SERVICES:
        try:
            declared = declare(service, service_uri(service))
        except QueueMismatch as exc:
            print(f"{service}: {exc}", file=sys.stderr)
            return 2
        print(f"{service}: {len(declared.queues)} {declared.queue_type} queues declared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
