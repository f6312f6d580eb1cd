"""`sns://TOPIC_ARN`: Amazon SNS, e.g. ``sns://arn:aws:sns:eu-west-1:123456789012:alarms``.

Fan-out to many consumers (queues, Lambdas, e-mail) with subscription filter policies on
the message attributes. The region comes from the ARN. A FIFO topic (``.fifo``) gets the
same group and deduplication ids as a FIFO queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from ...core.errors import ConfigError, PublishError
from ...core.message import Message
from ...core.ports import Publisher
from ..options import AwsOptions, BackendOptions
from .clients import AWS_ERRORS, client, error_text, fifo_ids, message_attributes

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SNSPublisher(Publisher):
    schemes = ("sns",)
    max_message_bytes = 262_144 - 2048  # SNS's 256 KiB, attributes included

    def __init__(self, topic_arn: str, *, sns: SNSClient | None = None, options: AwsOptions | None = None) -> None:
        fields = topic_arn.split(":")
        if len(fields) != 6 or fields[0] != "arn" or fields[2] != "sns":
            raise ConfigError(f"sns:// needs a topic ARN (sns://arn:aws:sns:REGION:ACCOUNT:NAME), got {topic_arn!r}")
        self.topic_arn = topic_arn
        self.fifo = topic_arn.endswith(".fifo")
        self.client = sns if sns is not None else client("sns", options or AwsOptions(), fields[3])

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> SNSPublisher:
        # urlsplit keeps the ARN whole in netloc (it has no "/"); a path would be a typo.
        return cls(url.netloc + url.path, options=options.aws)

    def publish(self, message: Message) -> None:
        request: dict[str, Any] = {
            "TopicArn": self.topic_arn,
            "Message": message.body,
            "MessageAttributes": message_attributes(message),
        }
        if self.fifo:
            request.update(fifo_ids(message))
        try:
            self.client.publish(**request)
        except AWS_ERRORS as exc:
            raise PublishError(f"sns publish failed: {error_text(exc)}") from exc
