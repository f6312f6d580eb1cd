"""`dynamodb://TABLE`: the dedup store and outbox on DynamoDB.

Table layout (serverless.yml creates it):

* partition key ``pk`` (S): the dedup key;
* ``status``, ``message``, ``created_at``, ``updated_at``, ``expires_at``, ``lease_until``,
  ``digest``, ``attempts``: the `Record` fields (times as epoch seconds; ``message`` as
  zlib-compressed bytes, so each write stays within one 1 KB write unit);
* ``outbox`` (S, ``"pending"``): present only while a record is owed to the sweeper. It is
  the partition key of the sparse GSI ``pending`` (sort key ``updated_at``), so the sweeper
  queries the few owed records oldest first instead of scanning the table. A claim does
  not set it: a new alarm that is published at once (claim, publish, mark) never enters
  the index, so it costs 2 write units, not 4, and the index's one partition key takes no
  write per alarm in a storm. `ensure_swept` sets it: the receiver calls it before it acks
  an alarm it has not published (the publish failed; a resend found the claim in
  progress: its first delivery may have died), the reconciler for an owed record a marker
  points at;
* ``ttl`` (N): for DynamoDB's TTL clean-up, set when the record is published, and on a
  claim (at its ``expires_at``) so that a claim nobody will publish (its callback was never
  acked, or went out unchecked) does not stay forever. `ensure_swept` removes it: an owed
  record is never deleted. Expiry itself is decided from ``expires_at`` (TTL deletes up to
  days late).

A claim is one conditional PutItem whose condition is `Record.claimable` (absent, expired,
or pending past its lease). When it fails, ``ReturnValuesOnConditionCheckFailure=ALL_OLD``
returns the record in the same call, so a duplicate costs one request. With occurrence
markers on, a new record and its marker are one ``TransactWriteItems`` of two conditional
Puts (transactional writes bill twice the write units: 2 x 2 instead of 1 + 1).

An alarm's episode record (`Store.load_episode`) is the item ``pk = "episode <fingerprint>"``
(a space: no dedup key has one) with ``version``, ``blob`` (zlib, as ``message``) and ``ttl``; it is swapped by
one UpdateItem conditioned on the version it was read at.

The quarantine can live in the same table (`dynamodb_quarantine`), so a Lambda needs no
second store. The module is longer than 300 lines because each Store primitive is one
request with its condition, names and values spelled out; split up, one table's layout
would be scattered over several modules.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from ...core.errors import ConfigError, StoreError
from ...core.outbox import PENDING, Claim, ClaimStatus, Record, Store
from ..options import AwsOptions, BackendOptions
from .clients import AWS_ERRORS, client, error_text

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef

KEY = "pk"
PENDING_INDEX = "pending"
OUTBOX = "outbox"  # sparse GSI partition attribute: "pending" records and "quarantine" items
QUARANTINED = "quarantine"
TTL = "ttl"
_NUMBERS = ("created_at", "updated_at", "expires_at", "lease_until")

# Record.claimable, as a condition. Every name goes through #aliases ("status" and "ttl"
# are DynamoDB reserved words).
_FRESH = "attribute_not_exists(#pk) OR #expires_at <= :now"
# A takeover (Record.decide): pending past its lease, same body. Only the lease moves.
_TAKEOVER = "#status = :pending AND #lease_until <= :now"
EPISODE_PREFIX = "episode "
_SAME_BODY = " AND (attribute_not_exists(#digest) OR #digest = :empty OR #digest = :digest)"


class DynamoDBStore(Store):
    schemes = ("dynamodb",)

    def __init__(
        self,
        table: str,
        ttl_seconds: float = 86400,
        lease_seconds: float = 10.0,
        *,
        dynamodb: DynamoDBClient | None = None,
        options: AwsOptions | None = None,
    ) -> None:
        super().__init__(ttl_seconds, lease_seconds)
        if not table:
            raise ConfigError("dynamodb:// needs a table name: dynamodb://TABLE")
        self.table = table
        self.client = dynamodb if dynamodb is not None else client("dynamodb", options or AwsOptions())

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> DynamoDBStore:
        return cls(url.netloc or url.path.strip("/"), options.ttl_seconds, options.lease_seconds, options=options.aws)

    def _claim(self, record: Record, now: float, marker: Record | None = None) -> Claim:
        """A fresh record is one conditional PutItem (with a marker: the record's and the
        marker's conditional Puts in one TransactWriteItems); a lost race returns the
        standing record in the same call (ALL_OLD). Only a takeover costs a second call (a
        conditional UpdateItem), so the original message is never rewritten."""
        for _ in range(3):  # the old item can only vanish under TTL deletion: retry
            try:
                if marker is None:
                    self.client.put_item(**self._fresh(record, now))
                else:
                    self.client.transact_write_items(
                        TransactItems=[{"Put": self._fresh(record, now)}, {"Put": self._fresh(marker, now)}]
                    )
            except self.client.exceptions.ConditionalCheckFailedException as exc:
                old: Any = exc.response.get("Item")  # ALL_OLD: the record that won
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons: Any = exc.response.get("CancellationReasons") or [{}, {}]
                if reasons[0].get("Code") != "ConditionalCheckFailed":
                    # the marker's key is held (the occurrence is owed or delivered already): a
                    # plain claim; or a conflicting transaction: try again
                    marker = None if reasons[1].get("Code") == "ConditionalCheckFailed" else marker
                    continue
                old = reasons[0].get("Item")
            except AWS_ERRORS as exc:
                raise StoreError(f"dynamodb claim failed: {error_text(exc)}") from exc
            else:
                return Claim(ClaimStatus.CLAIMED, record)
            existing = _record(old) if isinstance(old, dict) and old else self.get(record.key)
            if existing is None:
                continue
            if existing.decide(now, record.digest) == "takeover":
                taken = self._take_over(existing, now, record.digest, record.lease_until)
                if taken is not None:
                    return Claim(ClaimStatus.CLAIMED, taken)
                continue
            return self.lost_claim(existing, record.digest)
        raise StoreError(f"could not claim {record.key!r}")

    def _fresh(self, record: Record, now: float) -> PutTypeDef:
        """A Put of `record` on the condition that its key is free (absent or expired); when
        it fails, the standing item comes back (ALL_OLD). A claim (pending) and a marker
        (published from birth) both carry a TTL; neither joins the pending index."""
        return {
            "TableName": self.table,
            "Item": {**_item(record), TTL: {"N": str(math.ceil(record.expires_at))}},
            "ConditionExpression": _FRESH,
            "ExpressionAttributeNames": {"#pk": KEY, "#expires_at": "expires_at"},
            "ExpressionAttributeValues": {":now": number(now)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _take_over(self, existing: Record, now: float, digest: str, lease_until: float) -> Record | None:
        values: dict[str, Any] = {":now": number(now), ":pending": {"S": PENDING}, ":lease": number(lease_until)}
        condition = _TAKEOVER
        if digest:
            condition += _SAME_BODY
            values.update({":empty": {"S": ""}, ":digest": {"S": digest}})
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={KEY: {"S": existing.key}},
                UpdateExpression="SET #updated_at = :now, #lease_until = :lease ADD #attempts :one",
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    "#status": "status",
                    "#lease_until": "lease_until",
                    "#updated_at": "updated_at",
                    "#attempts": "attempts",
                    **({"#digest": "digest"} if digest else {}),
                },
                ExpressionAttributeValues={**values, ":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None  # someone else moved it first: look again
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb takeover failed: {error_text(exc)}") from exc
        return _record(answer["Attributes"])

    def _remember(self, marker: Record, now: float) -> bool:
        try:
            self.client.put_item(**self._fresh(marker, now))
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb remember failed: {error_text(exc)}") from exc
        return True

    def _expose(self, key: str, now: float) -> None:
        """Put a pending record in the sparse index and take its TTL off (it is owed). One
        conditional UpdateItem; a record already indexed, settled or gone is left alone."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={KEY: {"S": key}},
                UpdateExpression="SET #outbox = :pending REMOVE #ttl",
                ConditionExpression="#status = :pending AND attribute_not_exists(#outbox)",
                ExpressionAttributeNames={"#status": "status", "#outbox": OUTBOX, "#ttl": TTL},
                ExpressionAttributeValues={":pending": {"S": PENDING}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb ensure_swept failed: {error_text(exc)}") from exc

    def _settle(self, key: str, status: str, now: float) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={KEY: {"S": key}},
                # ttl: at or after the record's expires_at, in the whole epoch seconds TTL wants.
                UpdateExpression="SET #status = :published, #updated_at = :now, #ttl = :ttl REMOVE #outbox",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={
                    "#pk": KEY,
                    "#status": "status",
                    "#updated_at": "updated_at",
                    "#ttl": TTL,
                    "#outbox": OUTBOX,
                },
                ExpressionAttributeValues={
                    ":published": {"S": status},
                    ":now": number(now),
                    ":ttl": {"N": str(math.ceil(now + self.ttl_seconds))},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return  # no such record (expired and deleted): nothing to mark, as in the other stores
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb mark_published failed: {error_text(exc)}") from exc

    def get(self, key: str) -> Record | None:
        try:
            found = self.client.get_item(TableName=self.table, Key={KEY: {"S": key}}, ConsistentRead=True)
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb get failed: {error_text(exc)}") from exc
        item = found.get("Item")
        return _record(item) if item else None

    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        now = time.time() if now is None else now
        records: list[Record] = []
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "#outbox = :pending AND #updated_at <= :cutoff",
            "ExpressionAttributeNames": {"#outbox": OUTBOX, "#updated_at": "updated_at"},
            "ExpressionAttributeValues": {":pending": {"S": PENDING}, ":cutoff": number(now - older_than)},
            "ScanIndexForward": True,  # oldest first
        }
        try:
            while len(records) < limit:
                page = self.client.query(**query, Limit=limit - len(records))
                records.extend(_record(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb pending query failed: {error_text(exc)}") from exc
        # The index is eventually consistent: a record published a moment ago may still be
        # listed. The sweeper's claim re-checks it atomically, so that costs one request.
        return [r for r in records if r.status == PENDING]

    def load_episode(self, fingerprint: str) -> tuple[int, str] | None:
        try:
            found = self.client.get_item(
                TableName=self.table, Key={KEY: {"S": EPISODE_PREFIX + fingerprint}}, ConsistentRead=True
            )
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb load_episode failed: {error_text(exc)}") from exc
        item = found.get("Item")
        return None if item is None else (int(item["version"]["N"]), _text(item["blob"]))

    def swap_episode(self, fingerprint: str, version: int, blob: str, now: float, ttl_seconds: float) -> bool:
        condition = "attribute_not_exists(#pk)" if version == 0 else "#version = :version"
        values: dict[str, Any] = {
            ":next": {"N": str(version + 1)},
            ":blob": _compressed(blob),
            ":ttl": {"N": str(math.ceil(now + ttl_seconds))},
        }
        if version:
            values[":version"] = {"N": str(version)}
        try:
            self.client.update_item(
                TableName=self.table,
                Key={KEY: {"S": EPISODE_PREFIX + fingerprint}},
                UpdateExpression="SET #version = :next, #blob = :blob, #ttl = :ttl",
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    "#version": "version",
                    "#blob": "blob",
                    "#ttl": TTL,
                    **({"#pk": KEY} if version == 0 else {}),
                },
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        except AWS_ERRORS as exc:
            raise StoreError(f"dynamodb swap_episode failed: {error_text(exc)}") from exc
        return True


def number(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


def _item(record: Record) -> dict[str, Any]:
    return {
        KEY: {"S": record.key},
        "status": {"S": record.status},
        "message": _compressed(record.message),
        "digest": {"S": record.digest},
        "attempts": {"N": str(record.attempts)},
        **{name: number(getattr(record, name)) for name in _NUMBERS},
    }


def _compressed(text: str) -> dict[str, bytes]:
    """zlib: a callback body (0.7-1 KB of JSON) or an episode record (16 remembered marks,
    1-3 KB) compresses to under half, which keeps the item (and its copy in the pending
    index) inside one 1 KB write unit."""
    return {"B": zlib.compress(text.encode(), 6)}


def _text(value: Mapping[str, Any]) -> str:
    """A stored message or episode: compressed bytes, or text as written before compression."""
    return zlib.decompress(bytes(value["B"])).decode() if "B" in value else str(value["S"])


def _record(item: Mapping[str, Any]) -> Record:
    return Record(
        key=item[KEY]["S"],
        status=item["status"]["S"],
        message=_text(item["message"]),
        **{name: float(item[name]["N"]) for name in _NUMBERS},
        digest=item.get("digest", {}).get("S", ""),
        attempts=int(item.get("attempts", {}).get("N", "1")),
    )


def table_definition(table: str) -> dict[str, Any]:
    """CreateTable arguments for the layout above: local tables (DynamoDB Local, moto) and
    the tests, which also check that serverless.yml declares the same keys and index."""
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": KEY, "AttributeType": "S"},
            {"AttributeName": OUTBOX, "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "N"},
        ],
        "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": PENDING_INDEX,
                "KeySchema": [
                    {"AttributeName": OUTBOX, "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }
