"""The plain values backends are built with. The composition root (`alarm_callback.config`)
fills them from the settings; backends never read the environment themselves, so a test
or another host can build any backend from values alone.

They are `NamedTuple`s: see "Value records" in docs/architecture.md."""

from __future__ import annotations

from typing import NamedTuple

_KEYS = ("secret_id", "secret_key", "session_token")


class AwsOptions(NamedTuple):
    """botocore client tuning; the defaults fit Tencent's 5 s window (docs/aws.md)."""

    connect_timeout: float = 0.5
    read_timeout: float = 1.0
    max_attempts: int = 2


class TencentOptions(NamedTuple):
    """Tencent Cloud API clients: region/endpoint overrides, explicit keys (else the SCF
    execution role's), and the per-call timeout and retries."""

    region: str | None = None
    endpoint: str | None = None
    secret_id: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    timeout: float = 1.5
    max_attempts: int = 2
    retry_delay: float = 0.1

    def __repr__(self) -> str:
        """Without the keys: options end up in tracebacks and test reports."""
        shown = ", ".join(f"{name}={value!r}" for name, value in self._asdict().items() if name not in _KEYS)
        return f"TencentOptions({shown})"


class BackendOptions(NamedTuple):
    ttl_seconds: float = 86400
    lease_seconds: float = 10.0
    aws: AwsOptions = AwsOptions()  # immutable, so one shared default is safe
    tencent: TencentOptions = TencentOptions()
