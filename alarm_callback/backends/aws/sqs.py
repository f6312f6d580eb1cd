"""`sqs://HOST/ACCOUNT/NAME`: Amazon SQS, standard or FIFO.

The URL is the queue URL with ``https`` replaced by ``sqs``, e.g.
``sqs://sqs.eu-west-1.amazonaws.com/123456789012/alarms`` for
``https://sqs.eu-west-1.amazonaws.com/123456789012/alarms``. The region is taken from the
host, so the queue may live in another region than the function. A name ending in ``.fifo``
is a FIFO queue: ``MessageGroupId`` = alarm fingerprint (firing, repeats and recovery of one
alarm stay in order), ``MessageDeduplicationId`` = dedup key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from ...core.errors import ConfigError, PublishError
from ...core.message import Message
from ...core.ports import Publisher
from ..options import AwsOptions, BackendOptions
from .clients import AWS_ERRORS, client, error_text, fifo_ids, message_attributes

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_MESSAGE_BYTES = 262_144  # SQS's limit: body plus attribute names, types and values
# sqs.REGION.amazonaws.com[.cn] (current) and REGION.queue.amazonaws.com (legacy).
_REGION = re.compile(r"^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$")


class SQSPublisher(Publisher):
    schemes = ("sqs",)
    # SQS's 256 KiB counts the message attributes too: leave them room (10 short ones).
    max_message_bytes = MAX_MESSAGE_BYTES - 2048

    def __init__(
        self,
        queue_url: str,
        *,
        sqs: SQSClient | None = None,
        region: str | None = None,
        options: AwsOptions | None = None,
    ) -> None:
        self.queue_url = queue_url
        self.fifo = queue_url.rstrip("/").endswith(".fifo")
        self.client = sqs if sqs is not None else client("sqs", options or AwsOptions(), region)

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> SQSPublisher:
        parts = [part for part in url.path.split("/") if part]
        if not url.netloc or len(parts) != 2:
            raise ConfigError("sqs:// URL must be sqs://sqs.REGION.amazonaws.com/ACCOUNT_ID/QUEUE_NAME")
        match = _REGION.match(url.hostname or "")
        region = (match.group(1) or match.group(2)) if match else None
        return cls(f"https://{url.netloc}/{parts[0]}/{parts[1]}", region=region, options=options.aws)

    def publish(self, message: Message) -> None:
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": message.body,
            "MessageAttributes": message_attributes(message),
        }
        if self.fifo:
            request.update(fifo_ids(message))
        size = len(message.body.encode()) + sum(
            len(name) + len(value["DataType"]) + len(value["StringValue"].encode())
            for name, value in request["MessageAttributes"].items()
        )
        if size > MAX_MESSAGE_BYTES:  # say why here, rather than as SQS's generic 400
            raise PublishError(f"message is {size} bytes; SQS takes at most {MAX_MESSAGE_BYTES} (lower MAX_BODY_BYTES)")
        try:
            self.client.send_message(**request)
        except AWS_ERRORS as exc:
            raise PublishError(f"sqs send_message failed: {error_text(exc)}") from exc
