"""`QUARANTINE_URL=dynamodb://TABLE`: refused bodies in the outbox's own table.

Key ``quarantine <id>`` (the space keeps it apart from every dedup key, which is printable
ASCII without spaces) and ``outbox = "quarantine"``, which puts the item in the store's
sparse index, oldest first, in its own partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import SplitResult

from ...core.errors import ConfigError, QuarantineError
from ...core.ports import Quarantine, Quarantined
from ..options import AwsOptions, BackendOptions
from .clients import AWS_ERRORS, client, error_text
from .dynamodb import KEY, OUTBOX, PENDING_INDEX, QUARANTINED, number

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBQuarantine(Quarantine):
    schemes = ("dynamodb",)

    def __init__(
        self, table: str, *, dynamodb: DynamoDBClient | None = None, options: AwsOptions | None = None
    ) -> None:
        if not table:
            raise ConfigError("dynamodb:// needs a table name: dynamodb://TABLE")
        self.table = table
        self.client = dynamodb if dynamodb is not None else client("dynamodb", options or AwsOptions())

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> DynamoDBQuarantine:
        return cls(url.netloc or url.path.strip("/"), options=options.aws)

    def put(self, item: Quarantined) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    KEY: {"S": f"{QUARANTINED} {item.id}"},
                    OUTBOX: {"S": QUARANTINED},
                    "updated_at": number(item.received_at),
                    "reason": {"S": item.reason},
                    "detail": {"S": item.detail},
                    "body": {"B": item.body},
                    "source": {"S": item.source},
                    "truncated": {"BOOL": item.truncated},
                },
            )
        except AWS_ERRORS as exc:
            raise QuarantineError(f"dynamodb quarantine put failed: {error_text(exc)}") from exc

    def list(self, limit: int = 100) -> list[Quarantined]:
        try:
            page = self.client.query(
                TableName=self.table,
                IndexName=PENDING_INDEX,
                KeyConditionExpression="#outbox = :quarantine",
                ExpressionAttributeNames={"#outbox": OUTBOX},
                ExpressionAttributeValues={":quarantine": {"S": QUARANTINED}},
                ScanIndexForward=True,
                Limit=limit,
            )
        except AWS_ERRORS as exc:
            raise QuarantineError(f"dynamodb quarantine query failed: {error_text(exc)}") from exc
        return [
            Quarantined(
                id=item[KEY]["S"].removeprefix(f"{QUARANTINED} "),
                received_at=float(item["updated_at"]["N"]),
                reason=item["reason"]["S"],
                detail=item["detail"]["S"],
                body=bytes(item["body"]["B"]),
                source=item["source"]["S"],
                truncated=item["truncated"]["BOOL"],
            )
            for item in page.get("Items", [])
        ]

    def delete(self, item_id: str) -> None:
        try:
            self.client.delete_item(TableName=self.table, Key={KEY: {"S": f"{QUARANTINED} {item_id}"}})
        except AWS_ERRORS as exc:
            raise QuarantineError(f"dynamodb quarantine delete failed: {error_text(exc)}") from exc
