"""The same job written the way most Lambda users would, with Powertools for AWS Lambda.

An `APIGatewayHttpResolver` route, the body parsed into pydantic models, idempotency keyed
on ``sessionId`` (an in-memory `BasePersistenceLayer` subclass, as a DynamoDB table would be
in production), a CloudEvent built as a pydantic model and appended to an in-memory queue,
and the ack returned. It is the warm-cost baseline of ``make bench``; it shares no code
with ``alarm_callback``. The models and the message are in `powertools_models`, which the
cold-start baseline on DynamoDB and SQS (`powertools_dynamodb_app`) shares.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer, DataRecord
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

from .powertools_models import AlarmCallback, ack, cloud_event


class InMemoryPersistenceLayer(BasePersistenceLayer):
    """A dict with DynamoDB's conditional-put semantics."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        now = dt.datetime.now().timestamp()
        if existing is not None and not existing.is_expired:
            in_progress_expired = (
                existing.status == STATUS_CONSTANTS["INPROGRESS"]
                and existing.in_progress_expiry_timestamp is not None
                and existing.in_progress_expiry_timestamp < int(now * 1000)
            )
            if not in_progress_expired:
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


# -- the function ------------------------------------------------------------------------

QUEUE: list[str] = []
persistence = InMemoryPersistenceLayer()
config = IdempotencyConfig(event_key_jmespath="session_id", expires_after_seconds=86400)
app = APIGatewayHttpResolver()


@idempotent_function(data_keyword_argument="alarm", persistence_store=persistence, config=config)
def publish(alarm: AlarmCallback) -> dict[str, Any]:
    QUEUE.append(cloud_event(alarm).model_dump_json(by_alias=True))
    return ack(alarm)


@app.post("/callback/<token>")
def callback(token: str) -> Response[Any]:
    if token != TOKEN:
        return Response(401, content_types.APPLICATION_JSON, {"error": "unauthorized"})
    alarm = AlarmCallback.model_validate_json(app.current_event.body or "")
    return Response(200, content_types.APPLICATION_JSON, publish(alarm=alarm))


TOKEN = "bench-token-0123456789"  # benchmarks.events.TOKEN


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config.register_lambda_context(context)
    return app.resolve(event, context)
