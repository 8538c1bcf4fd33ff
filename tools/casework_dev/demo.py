"""`make demo`: a partner's referral through the running suite, step by step.

Talks to the suite `make run` started (default ports), prints what each call answered.
"""

from __future__ import annotations

import secrets
import sys
import time

import grpc
from google.protobuf import json_format

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import ensure_development_keys, issue_token
from casework_common.config import load_settings
from casework_common.rpc_errors import field_violations
from casework_dev.devstack import local_ports


def show(title: str, message: object) -> None:
    print(f"\n== {title}")
    if hasattr(message, "DESCRIPTOR"):
        print(json_format.MessageToJson(message, indent=2, ensure_ascii=False))  # type: ignore[arg-type]
    else:
        print(message)


def main() -> int:
    audience = load_settings("intake").jwt_audience
    key = ensure_development_keys()
    partner = [
        (
            "authorization",
            "Bearer "
            + issue_token(
                key.private_key,
                key.kid,
                audience=audience,
                organisation="org-demo",
                subject="partner-city-hospital",
                kind="partner",
                centres=["ctr-north-town"],
                scopes=["casework.intake.v1.IntakeService/SubmitReferral"],
            ),
        )
    ]
    anna = [
        (
            "authorization",
            "Bearer "
            + issue_token(
                key.private_key,
                key.kid,
                audience=audience,
                organisation="org-demo",
                subject="w-anna",
                centres=["ctr-north-town"],
                roles=["case_worker"],
            ),
        )
    ]
    ports = local_ports().grpc
    channel = lambda service: grpc.insecure_channel(f"127.0.0.1:{ports[service]}")  # noqa: E731
    intake = intake_pb2_grpc.IntakeServiceStub(channel("intake"))
    clients = clients_pb2_grpc.ClientsServiceStub(channel("clients"))
    notify = notify_pb2_grpc.NotifyServiceStub(channel("notify"))

    request = intake_pb2.SubmitReferralRequest(
        idempotency_key=f"demo-{secrets.token_hex(6)}",
        person=intake_pb2.Person(
            given_name="Marta", family_name="Šimková", date_of_birth="1948-09-30"
        ),
        contact=intake_pb2.Contact(phone="+421 905 111 222"),
        centre_id="ctr-north-town",
        client_type="senior",
        problem_type="housing",
        channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
        free_text="Discharged from hospital next week; her flat has no heating.",
    )
    show("1. partner calls intake.SubmitReferral", request)
    started = time.monotonic()
    try:
        reply = intake.SubmitReferral(request, metadata=partner, timeout=10)
    except grpc.RpcError as error:
        print(
            f"intake answered {error.code().name}: {error.details()}\n"
            "Is the suite up? Run `make run`."
        )
        return 1
    show("   intake answered", reply)

    show(
        "2. the same call again (a retry)",
        intake.SubmitReferral(request, metadata=partner, timeout=10),
    )

    note = None
    while time.monotonic() - started < 10 and note is None:
        inbox = notify.ListInbox(
            notify_pb2.ListInboxRequest(page_size=50), metadata=anna, timeout=5
        )
        note = next(
            (n for n in inbox.notifications if n.referral_id == reply.referral.referral_id), None
        )
        if note is None:
            time.sleep(0.02)
    if note is None:
        print("\nno notification within 10 s: see var/run/*.log")
        return 1
    show(
        f"3. Anna's inbox (notify.ListInbox) shows it after {time.monotonic() - started:.3f} s",
        note,
    )

    card = clients.GetClient(
        clients_pb2.GetClientRequest(client_id=note.client_id), metadata=anna, timeout=5
    )
    show("4. Anna opens the card (clients.GetClient)", card)

    bad = intake_pb2.SubmitReferralRequest(
        idempotency_key="demo-bad-input", centre_id="ctr-atlantis"
    )
    try:
        intake.SubmitReferral(bad, metadata=partner, timeout=5)
    except grpc.RpcError as error:
        show(f"5. a malformed referral is refused: {error.code().name}", field_violations(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
