"""boto3 clients for the AWS backends, built once per container and shared.

Every AWS call on the callback path (DynamoDB claim, SQS/SNS publish, mark_published) has
to fit in Tencent's 5 s window together with a cold start, so the clients share one
botocore `Config`: ``standard`` retry mode, short connect/read timeouts and few attempts.
docs/aws.md has the arithmetic behind the defaults.

Region and endpoint come from what botocore already honours (``AWS_REGION``,
``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``), so moto, LocalStack or a VPC
endpoint need no setting of ours. A backend whose resource names its region (a queue URL,
a topic ARN) passes it, so a queue in another region still works.

Imported only by the AWS backend modules, never by the core or the adapters.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ...core.message import Message
from ..options import AwsOptions

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# What a failed AWS call raises: the service said no (ClientError) or never answered
# (BotoCoreError: timeouts, connection errors, missing credentials...).
AWS_ERRORS = (BotoCoreError, ClientError)


def client_config(settings: AwsOptions) -> Config:
    return Config(
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        # Keep-alive connections: a warm container reuses them instead of new TLS handshakes.
        tcp_keepalive=True,
    )


_lock = threading.Lock()


@overload
def client(service: Literal["dynamodb"], options: AwsOptions, region: str | None = None) -> DynamoDBClient: ...
@overload
def client(service: Literal["sqs"], options: AwsOptions, region: str | None = None) -> SQSClient: ...
@overload
def client(service: Literal["sns"], options: AwsOptions, region: str | None = None) -> SNSClient: ...


def client(service: str, options: AwsOptions, region: str | None = None) -> Any:
    """The shared client for `service` (in `region`, else the environment's region).

    Creating a boto3 client costs tens of milliseconds and is not thread-safe on a shared
    session, so it happens once per (service, region) per container, under a lock. All
    clients come from one session: a session loads botocore's endpoint rules and partition
    data once for every client it builds (a session per client loaded them per client, on the
    cold start's path).
    """
    with _lock:
        return _build(service, options, region)


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _build(service: str, options: AwsOptions, region: str | None) -> Any:
    return _session().client(service, region_name=region, config=client_config(options))  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget the built clients and their session (tests that move between endpoints or mocks)."""
    with _lock:
        _build.cache_clear()
        _session.cache_clear()


def error_text(exc: Exception) -> str:
    """A short description of a failed call: the AWS error code when there is one."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


# -- messages: what SQS and SNS share -------------------------------------------------------

MAX_ATTRIBUTES = 10  # SQS's per-message limit (SNS allows more, the queues it feeds do not)
_MAX_FIFO_ID = 128  # MessageGroupId / MessageDeduplicationId length limit


def message_attributes(message: Message) -> dict[str, Any]:
    """`message.attributes` as String message attributes, for subscription filter policies
    and consumers that route without parsing the body. At most 10 (SQS's limit)."""
    items = sorted(message.attributes.items())[:MAX_ATTRIBUTES]
    return {name: {"DataType": "String", "StringValue": value} for name, value in items if value}


def fifo_ids(message: Message) -> dict[str, str]:
    """FIFO queue/topic parameters: one ordering group per alarm (its fingerprint) and the
    dedup key as deduplication id, so a repeat publish within 5 minutes is dropped by AWS.
    Ids longer than AWS allows are replaced by their SHA-256, which stays stable."""
    return {
        "MessageGroupId": _fifo_id(message.fingerprint or message.id),
        "MessageDeduplicationId": _fifo_id(message.id),
    }


def _fifo_id(value: str) -> str:
    return value if len(value) <= _MAX_FIFO_ID else hashlib.sha256(value.encode()).hexdigest()
