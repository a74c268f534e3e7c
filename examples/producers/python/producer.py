"""A Tidings producer for Python backends with confluent-kafka (librdkafka).

Sends one loan decision to `loan.decisions`, keyed by the borrower's user id, as plain JSON or in
CloudEvents binary mode, with an optional W3C traceparent:

    python producer.py --borrower b-1042 --decision APPROVED --amount 50000 [--cloudevents] [--traceparent 00-…-01]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone

from confluent_kafka import KafkaError, KafkaException, Producer

EVENT_TYPE = "loan.decision"
DECISIONS = ["APPROVED", "REJECTED", "NEEDS_INFO", "DISBURSED"]
ATTEMPTS = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Send one loan decision to Tidings")
    p.add_argument("--brokers", default=os.environ.get("KAFKA_BROKERS") or "localhost:9092")
    p.add_argument("--topic", default="loan.decisions")
    p.add_argument("--borrower", required=True, help="the borrower's user id (also the Kafka key)")
    p.add_argument("--loan", default="L-77")
    p.add_argument("--decision", default="APPROVED", choices=DECISIONS)
    p.add_argument("--amount", type=int, help="amount (omit for none)")
    p.add_argument("--currency", default="BDT")
    p.add_argument("--locale", choices=["en", "bn"])
    p.add_argument("--event-id", help="event id (default: a new UUID); reuse it to resend the same event")
    p.add_argument("--cloudevents", action="store_true", help="CloudEvents 1.0 binary mode (ce_* headers)")
    p.add_argument("--source", default="//loans.example.com/python-producer", help="CloudEvents source")
    p.add_argument("--traceparent", help="W3C traceparent header to send")
    return p.parse_args(argv)


def loan_decision_event(args: argparse.Namespace) -> dict:
    """The value of a loan.decisions record (docs/schemas/loan-decision-event.json)."""
    event = {
        # Fixed once, before any attempt: every retry resends this id, and the dispatcher's dedupe (same
        # id on the same topic within 24 h) turns retries into one notification.
        "eventId": args.event_id or str(uuid.uuid4()),
        "occurredAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "borrowerId": args.borrower,
        "loanId": args.loan,
        "decision": args.decision,
    }
    if args.amount is not None:
        event["amount"] = {"value": args.amount, "currency": args.currency}
    if args.locale:
        event["locale"] = args.locale
    return event


def headers(event: dict, args: argparse.Namespace) -> list[tuple[str, bytes]]:
    """Plain JSON: content-type + tidings-event-type. CloudEvents binary mode: the attributes as ce_* headers."""
    h = [("content-type", b"application/json")]
    if args.cloudevents:
        h += [
            ("ce_specversion", b"1.0"),
            ("ce_id", event["eventId"].encode()),
            ("ce_source", args.source.encode()),
            ("ce_type", EVENT_TYPE.encode()),
            ("ce_time", event["occurredAt"].encode()),
        ]
    else:
        h.append(("tidings-event-type", EVENT_TYPE.encode()))
    if args.traceparent:
        h.append(("traceparent", args.traceparent.encode()))
    return h


def send(producer: Producer, topic: str, key: str, value: bytes, hdrs: list[tuple[str, bytes]]):
    """Produces and waits for all in-sync replicas; resends the same record when the cluster was unavailable."""
    for attempt in range(1, ATTEMPTS + 1):
        result: dict = {}
        producer.produce(
            topic, key=key.encode(), value=value, headers=hdrs,
            on_delivery=lambda err, msg: result.update(err=err, msg=msg),
        )
        producer.flush(60)
        err = result.get("err")
        if err is None and "msg" in result:
            return result["msg"]
        retriable = err is None or err.retriable() or err.code() == KafkaError._MSG_TIMED_OUT
        if not retriable or attempt == ATTEMPTS:
            raise KafkaException(err)
        print(f"send failed ({err}), retrying with the same eventId", file=sys.stderr)
        time.sleep(attempt)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    event = loan_decision_event(args)
    producer = Producer({
        "bootstrap.servers": args.brokers,
        "client.id": "loan-service",
        "acks": "all",
        "enable.idempotence": True,  # librdkafka's own retries never write a record twice
        "delivery.timeout.ms": 30000,
    })
    # key = user id: all of one borrower's events land on one partition, so they arrive in order
    msg = send(producer, args.topic, event["borrowerId"], json.dumps(event).encode(), headers(event, args))
    line = {"eventId": event["eventId"], "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}
    print(json.dumps(line, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1:])
