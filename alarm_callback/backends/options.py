"""The plain values backends are built with. The composition root (`alarm_callback.config`)
fills them from the settings; backends never read the environment themselves, so a test
or another host can build any backend from values alone."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AwsOptions:
    """botocore client tuning; the defaults fit Tencent's 5 s window (docs/aws.md)."""

    connect_timeout: float = 0.5
    read_timeout: float = 1.0
    max_attempts: int = 2


@dataclass(frozen=True, slots=True)
class TencentOptions:
    """Tencent Cloud API clients: region/endpoint overrides, explicit keys (else the SCF
    execution role's), and the per-call timeout and retries."""

    region: str | None = None
    endpoint: str | None = None
    secret_id: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    timeout: float = 1.5
    max_attempts: int = 2
    retry_delay: float = 0.1


@dataclass(frozen=True, slots=True)
class BackendOptions:
    ttl_seconds: float = 86400
    lease_seconds: float = 10.0
    aws: AwsOptions = field(default_factory=AwsOptions)
    tencent: TencentOptions = field(default_factory=TencentOptions)
