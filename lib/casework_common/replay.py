"""`make replay ARGS="dead-letters|unrouted [--dry-run]"`: give parked messages another go.

- dead-letters: messages a consumer refused (reason in `x-casework-reason`) or that hit
  their queue's delivery limit go back to that one consumer's queue, not to every
  subscriber of the event. Undecodable messages, which no consumer can ever read, stay.
- unrouted: events published before any queue was bound for them are published again
  on the events exchange with their original routing key.

Run it after fixing what made the messages fail; each replayed message carries
`x-casework-replayed`, and consumers still de-duplicate by event id.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

import kombu

from casework_common.config import load_settings
from casework_common.messaging import EVENT_CONTENT_TYPE, Publisher, declare_topology


@dataclass
class Outcome:
    replayed: int = 0
    kept: int = 0


def _consumer_queue(headers: dict[str, Any]) -> str | None:
    consumer = headers.get("x-casework-consumer")
    if isinstance(consumer, str) and not consumer.startswith("undecodable."):
        return consumer
    deaths = headers.get("x-death") or []
    if deaths and isinstance(deaths[0], dict) and deaths[0].get("queue"):
        return str(deaths[0]["queue"])
    return None


def replay(amqp_uri: str, exchange: str, source: str, *, dry_run: bool = False) -> Outcome:
    outcome = Outcome()
    publisher = Publisher(amqp_uri, exchange)
    with kombu.Connection(amqp_uri) as connection:
        declare_topology(connection, exchange)
        channel = connection.channel()
        queue_name = (
            f"{exchange}.dead-letter" if source == "dead-letters" else f"{exchange}.unrouted"
        )
        # Only what is there now: messages kept back are requeued at the end and must
        # not be read twice in this run.
        _, waiting, _ = channel.queue_declare(queue=queue_name, passive=True)
        held = []
        for _ in range(waiting):
            message = channel.basic_get(queue=queue_name, no_ack=False)
            if message is None:
                break
            headers = dict(message.headers or {})
            if source == "dead-letters":
                target = _consumer_queue(headers)
                destination, routing_key = "", target
            else:
                destination, routing_key = exchange, message.delivery_info["routing_key"]
            if routing_key is None or dry_run:
                print(
                    f"keep    {headers.get('x-casework-consumer', routing_key)}: "
                    f"{headers.get('x-casework-reason', '')}"
                )
                held.append(message)
                outcome.kept += 1
                continue
            headers = {k: v for k, v in headers.items() if not k.startswith("x-death")}
            headers["x-casework-replayed"] = 1
            publisher.publish_raw(
                message.body,
                exchange=destination,
                routing_key=routing_key,
                headers=headers,
                message_id=message.properties.get("message_id"),
                content_type=EVENT_CONTENT_TYPE,
            )
            channel.basic_ack(message.delivery_tag)
            print(f"replay  -> {routing_key}")
            outcome.replayed += 1
        for message in held:
            channel.basic_reject(message.delivery_tag, requeue=True)
        channel.close()
    publisher.close()
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", choices=["dead-letters", "unrouted"])
    parser.add_argument("--dry-run", action="store_true", help="list, replay nothing")
    args = parser.parse_args(argv)
    settings = load_settings("intake")
    exchange = os.environ.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events"
    outcome = replay(settings.amqp_uri, exchange, args.source, dry_run=args.dry_run)
    print(f"{outcome.replayed} replayed, {outcome.kept} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
