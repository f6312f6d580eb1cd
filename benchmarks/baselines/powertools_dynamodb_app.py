"""The Powertools-style handler as it would be deployed: the cold-start baseline of
``make bench`` (issue 14: APIGatewayHttpResolver + parser + idempotency on DynamoDB + boto3
SQS).

The same route, models and message as the warm baseline (`powertools_app`,
`powertools_models`), but the body goes through Powertools' parser (`parse`), the
idempotency record lives in DynamoDB (`DynamoDBPersistenceLayer`, on the cold-start
section's moto table, keyed on its ``pk``) and the CloudEvent is sent to SQS with boto3. A
new alarm makes the same three calls as the subject and the floor: a conditional PutItem
(in progress), SendMessage, an UpdateItem (completed). Both boto3 clients get the floor's
`Config` (same retries and timeouts). Table and queue come from the environment the
cold-start section sets (``BENCH_TABLE``, ``BENCH_QUEUE_URL``, ``AWS_ENDPOINT_URL``), as a
deployed function would read its own.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import parse
from botocore.config import Config

from .powertools_models import AlarmCallback, ack, cloud_event

TOKEN = "bench-token-0123456789"  # benchmarks.events.TOKEN
QUEUE_URL = os.environ["BENCH_QUEUE_URL"]
BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=0.5, read_timeout=1.0, tcp_keepalive=True
)

persistence = DynamoDBPersistenceLayer(table_name=os.environ["BENCH_TABLE"], key_attr="pk", boto_config=BOTO_CONFIG)
config = IdempotencyConfig(event_key_jmespath="session_id", expires_after_seconds=86400)
sqs = boto3.session.Session().client("sqs", config=BOTO_CONFIG)
app = APIGatewayHttpResolver()


@idempotent_function(data_keyword_argument="alarm", persistence_store=persistence, config=config)  # type: ignore[untyped-decorator]
def publish(alarm: AlarmCallback) -> dict[str, Any]:
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=cloud_event(alarm).model_dump_json(by_alias=True))
    return ack(alarm)


@app.post("/callback/<token>")
def callback(token: str) -> Response[Any]:
    if token != TOKEN:
        return Response(401, content_types.APPLICATION_JSON, {"error": "unauthorized"})
    alarm = parse(event=app.current_event.json_body, model=AlarmCallback)
    return Response(200, content_types.APPLICATION_JSON, publish(alarm=alarm))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config.register_lambda_context(context)
    return app.resolve(event, context)
