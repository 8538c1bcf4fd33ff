"""`make replay ARGS="dead-letters|unrouted [--dry-run]"`: give parked messages another go.

- dead-letters: messages a consumer refused (reason in `x-casework-reason`) or that hit
  their queue's delivery limit go back to that one consumer's queue, not to every
  subscriber of the event. Undecodable messages, which no consumer can ever read, stay.
- unrouted: events published before any queue was bound for them are published again
  on the events exchange with their original routing key.

Run it after fixing what made the messages fail; each replayed message carries
`x-casework-replayed`, and consumers still de-duplicate by event id.

A replayed event is published in the name (AMQP `user_id`) of the broker user that
first published it, never the replayer's, so consumers judge it as they judged the
original: a forged event stays forged. That needs a broker user tagged `impersonator`:
CASEWORK_REPLAY_AMQP_URI, else the one `make run` made (var/broker-users.json), else
AMQP_URI. A consumer's dead letter names the original publisher in a header; it is
believed only when the dead letter itself was published by the user of the service
whose queue refused it (any other is kept, not replayed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kombu

from casework_common.config import REPO_ROOT, load_settings
from casework_common.messaging import (
    EVENT_CONTENT_TYPE,
    PUBLISHER_HEADER,
    Publisher,
    PublishRefused,
    broker_user_prefix,
    declare_topology,
    service_of_user,
)

# Written by `make run` (casework_dev.devstack): the broker users it made for the local
# stack. Read here, not imported from there, because an operator runs this module from
# the runtime image, which holds no development tools.
BROKER_USERS_FILE = "broker-users.json"
REPLAY_ROLE = "replay"


def stored_replay_uri(var: Path) -> tuple[str, str] | None:
    """The operator's AMQP URI and the users' prefix `make run` stored, if it did."""
    path = var / BROKER_USERS_FILE
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    return stored["uris"][REPLAY_ROLE], stored["prefix"]


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


def _original_publisher(
    message: Any, headers: dict[str, Any], queue: str | None, prefix: str
) -> tuple[str, str | None]:
    """The user_id to replay a dead letter with ("" for none), or why to keep it."""
    if "x-casework-consumer" not in headers:
        # Dead-lettered by the broker itself: the message as its publisher sent it.
        return str(message.properties.get("user_id") or ""), None
    refuser = service_of_user(message.properties.get("user_id"), prefix)
    if queue is None or refuser is None or not queue.startswith(f"{refuser}."):
        return "", "not dead-lettered by the service that owns the queue"
    return str(headers.get(PUBLISHER_HEADER) or ""), None


def replay(
    amqp_uri: str,
    exchange: str,
    source: str,
    *,
    dry_run: bool = False,
    prefix: str | None = None,
) -> Outcome:
    """`amqp_uri`'s user must be tagged `impersonator`; `prefix` is the services' broker
    user prefix (CASEWORK_BROKER_USER_PREFIX)."""
    prefix = broker_user_prefix() if prefix is None else prefix
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
            distrust: str | None = None
            if source == "dead-letters":
                target = _consumer_queue(headers)
                destination, routing_key = "", target
                user_id, distrust = _original_publisher(message, headers, target, prefix)
            else:
                destination, routing_key = exchange, message.delivery_info["routing_key"]
                user_id = str(message.properties.get("user_id") or "")
            if routing_key is None or distrust is not None or dry_run:
                print(
                    f"keep    {headers.get('x-casework-consumer', routing_key)}: "
                    f"{distrust or headers.get('x-casework-reason', '')}"
                )
                held.append(message)
                outcome.kept += 1
                continue
            headers = {
                k: v
                for k, v in headers.items()
                if not k.startswith("x-death") and k != PUBLISHER_HEADER
            }
            headers["x-casework-replayed"] = 1
            publisher.publish_raw(
                message.body,
                exchange=destination,
                routing_key=routing_key,
                headers=headers,
                message_id=message.properties.get("message_id"),
                content_type=EVENT_CONTENT_TYPE,
                user_id=user_id,
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
    exchange = os.environ.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events"
    amqp_uri = os.environ.get("CASEWORK_REPLAY_AMQP_URI") or ""
    prefix = None
    stored = stored_replay_uri(REPO_ROOT / "var")
    if not amqp_uri and stored is not None:
        amqp_uri, prefix = stored
    amqp_uri = amqp_uri or load_settings("intake").amqp_uri
    try:
        outcome = replay(amqp_uri, exchange, args.source, dry_run=args.dry_run, prefix=prefix)
    except PublishRefused as exc:
        # The message being replayed was not acknowledged: it stays parked.
        print(
            f"replay refused by the broker; it needs a user tagged impersonator "
            f"(CASEWORK_REPLAY_AMQP_URI): {exc}",
            file=sys.stderr,
        )
        return 1
    print(f"{outcome.replayed} replayed, {outcome.kept} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
