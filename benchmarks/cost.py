"""Section `cost` (issue 14): DynamoDB write units per alarm, and modelled USD per million.

The child process (``python -m benchmarks.cost``) runs the real `Receiver` on a
`DynamoDBStore` over moto (in process), one new callback per seed sample and then the same
callback again (a resend), and captures every DynamoDB write request with botocore event
hooks (``provide-client-params`` before, ``after-call`` after). For each request it reads
the item before and after (through a second, unhooked client) and computes, by AWS's rules
(`item_size`, the "item sizes and formats" page of the DynamoDB developer guide):

* table write units: ceil(max(size before, size after) / 1 KB), at least 1; a conditional
  write whose condition fails still consumes units for the existing item (at least 1);
* GSI write units, per index: the entry's size is the projected attributes (ALL: the item);
  a new entry or a removed one costs one write of its size, a changed index key two
  (delete + put), an entry whose key is unchanged one write of the larger size.

The Powertools-style design (an idempotency record per callback through Powertools'
own `DynamoDBPersistenceLayer`, then one SQS message) is measured the same way on its own
moto table. Money is modelled from the price table below (nothing is fetched at run time).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback
from decimal import Decimal
from typing import Any

from .common import Section, median

GOAL_NEW = 4  # write units per new alarm, table + indexes
GOAL_RESEND = 1  # write units per resend
RESENDS_PER_ALARM = 1  # the modelled mix: every alarm delivered once more by Tencent
KB = 1024
SQS_CHUNK = 64 * KB

# us-east-1, recorded 2026-12-01 from the AWS pricing pages (not fetched by the harness).
PRICES = {
    "dynamodb_write_request_unit": 0.625e-6,
    "sqs_request": 0.40e-6,
}
PRICE_SOURCE = (
    "us-east-1 list prices recorded 2026-12-01: DynamoDB on-demand $0.625 per million write request "
    "units (https://aws.amazon.com/dynamodb/pricing/on-demand/, the rate since the 2024-11-01 "
    "on-demand price cut); SQS standard queue $0.40 per million requests, each 64 KB chunk of a "
    "message one request, past the 1 million monthly free tier (https://aws.amazon.com/sqs/pricing/). "
    "Lambda, API gateway, reads (the sweeper's query) and storage are left out: they are the same "
    "order for both designs."
)

REGION = "us-east-1"


def value_size(value: dict[str, Any]) -> int:
    """Size of one AttributeValue, without its name."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode()) for item in data)
    if kind == "NS":
        return sum(number_size(item) for item in data)
    if kind == "BS":
        return sum(len(item) for item in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(item) for name, item in data.items())
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in data)
    raise ValueError(f"unknown attribute type {kind!r}")


def number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed) + 1 byte."""
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(max(len(digits), 1) / 2) + 1


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int) -> int:
    return math.ceil(size / KB)


class WriteMeter:
    """Hooks one client's write requests; `writes` gets one dict per request."""

    def __init__(self, client: Any, reader: Any) -> None:
        self.reader = reader
        self.writes: list[dict[str, Any]] = []
        self._schemas: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, Any] | None = None
        for op in ("PutItem", "UpdateItem", "DeleteItem"):
            client.meta.events.register(f"provide-client-params.dynamodb.{op}", self._before)
            client.meta.events.register(f"after-call.dynamodb.{op}", self._after)

    def _schema(self, table: str) -> dict[str, Any]:
        if table not in self._schemas:
            self._schemas[table] = self.reader.describe_table(TableName=table)["Table"]
        return self._schemas[table]

    def _key(self, table: str, params: dict[str, Any]) -> dict[str, Any]:
        names = [k["AttributeName"] for k in self._schema(table)["KeySchema"]]
        source = params.get("Key") or params["Item"]
        return {name: source[name] for name in names}

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        table = params["TableName"]
        key = self._key(table, params)
        self._pending = {"op": model.name, "table": table, "key": key, "old": self._read(table, key)}

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        table, old = pending["table"], pending["old"]
        failed = parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
        new = old if failed else self._read(table, pending["key"])
        old_size, new_size = item_size(old), item_size(new)
        table_units = max(1, units(old_size if failed else max(old_size, new_size)))
        index_units = 0 if failed else sum(self._index_units(index, old, new) for index in self._indexes(table))
        self.writes.append(
            {
                "op": pending["op"] + (" (condition failed)" if failed else ""),
                "table": table,
                "size_before": old_size,
                "size_after": new_size,
                "table_units": table_units,
                "index_units": index_units,
            }
        )

    def _indexes(self, table: str) -> list[dict[str, Any]]:
        return list(self._schema(table).get("GlobalSecondaryIndexes", []))

    def _index_units(self, index: dict[str, Any], old: dict[str, Any] | None, new: dict[str, Any] | None) -> int:
        keys = [k["AttributeName"] for k in index["KeySchema"]]

        def entry(item: dict[str, Any] | None) -> tuple[tuple[str, ...] | None, int]:
            if not item or any(name not in item for name in keys):
                return None, 0
            projection = index["Projection"]
            kind = projection["ProjectionType"]
            if kind == "ALL":
                kept = item
            else:
                names = {k["AttributeName"] for k in index["KeySchema"]}
                names |= {k["AttributeName"] for k in self._table_keys(item, index)}
                if kind == "INCLUDE":
                    names |= set(projection.get("NonKeyAttributes", []))
                kept = {name: value for name, value in item.items() if name in names}
            return tuple(json.dumps(item[name], sort_keys=True) for name in keys), item_size(kept)

        old_key, old_size = entry(old)
        new_key, new_size = entry(new)
        if old_key is None and new_key is None:
            return 0
        if old_key is None:
            return max(1, units(new_size))
        if new_key is None:
            return max(1, units(old_size))
        if old_key != new_key:
            return max(1, units(old_size)) + max(1, units(new_size))
        return max(1, units(max(old_size, new_size)))

    def _table_keys(self, item: dict[str, Any], index: dict[str, Any]) -> list[dict[str, Any]]:
        for schema in self._schemas.values():
            if index in schema.get("GlobalSecondaryIndexes", []):
                return list(schema["KeySchema"])
        return []


def _ours(client: Any, reader: Any, bodies: list[bytes], resend: list[bytes], episodes: bool = True) -> dict[str, Any]:
    from alarm_callback.backends.aws.dynamodb import DynamoDBStore, table_definition
    from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine
    from alarm_callback.core.http import Request
    from alarm_callback.core.receiver import Receiver

    from . import events

    table = "bench-outbox" if episodes else "bench-outbox-plain"
    client.create_table(**table_definition(table))
    meter = WriteMeter(client, reader)
    publisher = MemoryPublisher()
    store = DynamoDBStore(table, dynamodb=client)
    receiver = Receiver(store, publisher, MemoryQuarantine(), **({} if episodes else {"episode_ttl_seconds": 0}))
    per_new, per_resend, sample_writes = [], [], []
    for body, again in zip(bodies, resend, strict=True):
        for phase, raw, into in (("new", body, per_new), ("resend", again, per_resend)):
            start = len(meter.writes)
            reply = receiver.handle(Request("POST", f"/callback/{events.TOKEN}", raw))
            if reply.status != 200:
                raise RuntimeError(f"{phase}: {reply.status} {reply.body!r}")
            writes = meter.writes[start:]
            into.append(sum(w["table_units"] + w["index_units"] for w in writes))
            if len(sample_writes) < 2 and phase == ("new" if not sample_writes else "resend"):
                sample_writes.append({"phase": phase, "writes": writes})
    sizes = [len(m.body.encode()) for m in publisher.messages]
    return {
        "new_units": per_new,
        "resend_units": per_resend,
        "messages": len(publisher.messages),
        "message_bytes": sizes,
        "sqs_requests": [math.ceil(size / SQS_CHUNK) for size in sizes],
        "example": sample_writes,
        "item_sizes_after_claim": [w["size_after"] for w in meter.writes if w["op"] == "PutItem"],
    }


def _powertools(client: Any, reader: Any, bodies: list[bytes], resend: list[bytes]) -> dict[str, Any] | str:
    try:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
    except ImportError:
        return "aws-lambda-powertools not installed"
    table = "bench-idempotency"
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    meter = WriteMeter(client, reader)
    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
    config = IdempotencyConfig(event_key_jmespath="sessionId", expires_after_seconds=86400)

    @idempotent_function(data_keyword_argument="alarm", persistence_store=persistence, config=config)
    def publish(alarm: dict[str, Any]) -> dict[str, Any]:
        return {"sessionId": alarm["sessionId"], "retCode": 0}  # what powertools_app returns

    per_new, per_resend = [], []
    for body, again in zip(bodies, resend, strict=True):
        for raw, into in ((body, per_new), (again, per_resend)):
            start = len(meter.writes)
            publish(alarm=json.loads(raw))
            into.append(sum(w["table_units"] + w["index_units"] for w in meter.writes[start:]))
    return {"new_units": per_new, "resend_units": per_resend, "example": meter.writes[:3]}


def child(smoke: bool) -> dict[str, Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the log lines: written, not kept
    import boto3
    from moto import mock_aws

    from . import events

    samples = events.bodies()[: 3 if smoke else None]
    bodies = [events.distinct(body, f"cost-{i}") for i, body in enumerate(samples)]
    with mock_aws():
        reader = boto3.client("dynamodb", region_name=REGION)
        ours = _ours(boto3.client("dynamodb", region_name=REGION), reader, bodies, bodies)
        plain = _ours(boto3.client("dynamodb", region_name=REGION), reader, bodies, bodies, episodes=False)
        ours["new_units_without_episodes"] = plain["new_units"]
        theirs = _powertools(boto3.client("dynamodb", region_name=REGION), reader, bodies, bodies)
    return {"ours": ours, "powertools": theirs, "samples": len(bodies)}


def _writes_text(writes: list[dict[str, Any]]) -> str:
    """A call's writes as ``UpdateItem 1 + PutItem 1 (+1 GSI)``: the units each was billed."""
    return " + ".join(
        f"{w['op']} {w['table_units']}" + (f" (+{w['index_units']} GSI)" if w["index_units"] else "") for w in writes
    )


def _usd_per_million(new_units: float, resend_units: float, sqs_requests: float) -> float:
    wru = PRICES["dynamodb_write_request_unit"]
    per_alarm = (new_units + RESENDS_PER_ALARM * resend_units) * wru + sqs_requests * PRICES["sqs_request"]
    return per_alarm * 1e6


def run(smoke: bool = False) -> Section:
    from .common import env_without_ours, run_json

    section = Section("cost")
    out = run_json([sys.executable, "-m", "benchmarks.cost"] + (["--smoke"] if smoke else []), env_without_ours())
    section.data = out
    ours = out["ours"]
    new, resend = ours["new_units"], ours["resend_units"]
    worst_new, worst_resend = max(new), max(resend)
    claim_sizes = ours["item_sizes_after_claim"]
    section.add(
        "cost: DynamoDB write units per new alarm (table + GSI)",
        f"{median(new):.0f} median, {worst_new} max over {out['samples']} seed samples",
        goal=f"<= {GOAL_NEW}",
        ok=worst_new <= GOAL_NEW,
        note=(
            f"the first sample's writes: {_writes_text(ours['example'][0]['writes'])} (the episode record's "
            "swap, the claim, the mark; the pending GSI is written only when the sweeper may be needed: "
            "a failed publish or a resend of a claim in progress, +2); item after claim "
            f"{min(claim_sizes)}-{max(claim_sizes)} B (message {min(ours['message_bytes'])}-{max(ours['message_bytes'])} B)"
        ),
    )
    plain = ours.get("new_units_without_episodes") or [0]
    section.add(
        "cost: DynamoDB write units per new alarm with episodes off (EPISODE_TTL_SECONDS=0)",
        f"{median(plain):.0f} median, {max(plain)} max",
        note="what the outbox alone costs: episodes add one write per notification",
    )
    section.add(
        "cost: DynamoDB write units per resend",
        f"{median(resend):.0f} median, {worst_resend} max",
        goal=f"<= {GOAL_RESEND}",
        ok=worst_resend <= GOAL_RESEND,
        note="the failed conditional PutItem is billed for the standing item's size",
    )
    sqs = median(ours["sqs_requests"])
    ours_usd = _usd_per_million(median(new), median(resend), sqs)
    pt = out["powertools"]
    if isinstance(pt, dict):
        pt_usd = _usd_per_million(median(pt["new_units"]), median(pt["resend_units"]), sqs)
        section.add(
            "cost: Powertools-style design (idempotency record + SQS), write units new / resend",
            f"{median(pt['new_units']):.0f} / {median(pt['resend_units']):.0f} (max {max(pt['new_units'])} / "
            f"{max(pt['resend_units'])})",
            note="Powertools' DynamoDBPersistenceLayer on moto, keyed on sessionId, data = the ack",
        )
        section.add(
            f"cost: modelled USD per million alarms (+{RESENDS_PER_ALARM} resend each, DynamoDB + SQS)",
            f"${ours_usd:.2f}",
            f"Powertools-style ${pt_usd:.2f}",
            f"{ours_usd / pt_usd:.2f}x",
            note="prices: see the price table under the table",
        )
    else:
        section.add("cost: Powertools-style design", f"not available ({pt})")
        section.add("cost: modelled USD per million alarms", f"${ours_usd:.2f}", note="prices under the table")
    section.details.append(
        "Price table (cost section): "
        + PRICE_SOURCE
        + f"\nModel per alarm: (write units of a new alarm + {RESENDS_PER_ALARM} x a resend's) x WRU price"
        + " + SQS requests (64 KB chunks of the message) x request price."
        + "\nExample writes of one new alarm and one resend (this project):\n"
        + json.dumps(ours["example"], indent=1)
        + "\nPowertools-style writes (first three):\n"
        + json.dumps(pt["example"] if isinstance(pt, dict) else pt, indent=1)
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    try:
        print(json.dumps(child(args.smoke)))
    except Exception:
        print(traceback.format_exc())
        sys.exit(1)


if __name__ == "__main__":
    main()
