"""Tencent Cloud API clients for the Tencent backends, built once per container and shared.

Only the slim SDK packages are used (``tencentcloud-sdk-python-common`` and ``-tdmq``),
so an SCF package carries a few hundred kilobytes of SDK instead of the whole one.

Credentials, in order:

1. explicit settings ``ALARM_CALLBACK_TENCENT_SECRET_ID`` / ``_SECRET_KEY`` (and
   ``_SESSION_TOKEN`` for temporary keys);
2. the SCF execution role: the runtime puts temporary keys in ``TENCENTCLOUD_SECRETID``,
   ``TENCENTCLOUD_SECRETKEY`` and ``TENCENTCLOUD_SESSIONTOKEN``. They are read again on
   every call, so keys the platform rotates in a warm container are picked up.

Region: ``ALARM_CALLBACK_TENCENT_REGION``, else the function's own (``TENCENTCLOUD_REGION``,
set by SCF). Endpoint: ``ALARM_CALLBACK_TENCENT_ENDPOINT`` (e.g.
``tdmq.internal.tencentcloudapi.com`` from a VPC, ``tdmq.intl.tencentcloudapi.com`` for the
international site, ``http://127.0.0.1:8000`` for tests), else the SDK's default.

Every call on the callback path has to fit Tencent's 5 s window with the dedup write, so the
SDK gets a short timeout (1.5 s, connect and read) and at most 2 attempts, retried only on
network errors and throttling, after 0.1 s (see `Retryer`).

Imported only by the Tencent backend modules, never by the core or the adapters.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from ...core.errors import ConfigError
from ..options import TencentOptions

# What a failed SDK call raises (service errors, network errors, timeouts: all wrapped).
TENCENT_ERRORS = (TencentCloudSDKException,)
ROLE_VARIABLES = ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")


class Credential:
    """What the SDK asks for (``get_credential_info``), resolved on every call."""

    def __init__(self, options: TencentOptions) -> None:
        self._explicit = bool(_secret(options.secret_id) and _secret(options.secret_key))
        self._options = options

    def get_credential_info(self) -> tuple[str, str, str | None]:
        if self._explicit:
            o = self._options
            return _secret(o.secret_id), _secret(o.secret_key), _secret(o.session_token) or None
        secret_id, secret_key, token = (os.environ.get(name) or None for name in ROLE_VARIABLES)
        if not secret_id or not secret_key:
            raise TencentCloudSDKException("InvalidCredential", "no Tencent Cloud credentials in the environment")
        return secret_id, secret_key, token

    @property
    def available(self) -> bool:
        return self._explicit or all(os.environ.get(name) for name in ROLE_VARIABLES[:2])


def _secret(value: str | None) -> str:
    """A secret's value; blank (an empty deploy variable) counts as unset."""
    return value.strip() if value is not None else ""


def region_of(settings: TencentOptions, override: str | None = None) -> str:
    region = override or settings.region or os.environ.get("TENCENTCLOUD_REGION")
    if not region:
        raise ConfigError("no Tencent region: set ALARM_CALLBACK_TENCENT_REGION (SCF sets TENCENTCLOUD_REGION)")
    return region


def http_profile(settings: TencentOptions, endpoint: str | None = None) -> HttpProfile:
    """``host[:port]`` or ``scheme://host[:port]``; the SDK wants the two apart."""
    endpoint = endpoint or settings.endpoint
    protocol = "https"
    if endpoint and "://" in endpoint:
        parts = urlsplit(endpoint)
        protocol, endpoint = parts.scheme, parts.netloc
    return HttpProfile(protocol=protocol, endpoint=endpoint or None, reqTimeout=settings.timeout, keepAlive=True)


# Worth a second try: the request may not have arrived, or was throttled.
RETRYABLE = frozenset(
    {
        "ClientNetworkError",
        "ServerNetworkError",
        "RequestLimitExceeded",
        "RequestLimitExceeded.UinLimitExceeded",
        "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
    }
)


class Retryer:
    """The SDK's ``retryer`` hook: `attempts` tries, `delay` seconds apart, retryable codes only.

    Not the SDK's own StandardRetryer: it keeps the first attempt's error after a retry
    succeeds and reports the call as failed (SDK 3.1.x), which would turn every recovered
    send into an outboxed one and a second copy from the sweeper."""

    def __init__(self, attempts: int, delay: float) -> None:
        self.attempts = attempts
        self.delay = delay

    def send_request(self, fn: Callable[[], Any]) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except TencentCloudSDKException as exc:
                if attempt >= self.attempts or exc.get_code() not in RETRYABLE:
                    raise
            time.sleep(self.delay)
        raise AssertionError("unreachable")


_lock = threading.Lock()


def tdmq_client(options: TencentOptions, region: str | None = None, endpoint: str | None = None) -> Any:
    """The shared TDMQ client (API 2020-02-17) for `region` and `endpoint`."""
    resolved = region_of(options, region)
    with _lock:
        return _build(options, resolved, endpoint or options.endpoint)


@functools.cache
def _build(settings: TencentOptions, region: str, endpoint: str | None) -> Any:
    credential = Credential(settings)
    if not credential.available:
        raise ConfigError(
            "no Tencent credentials: give the function an execution role (TENCENTCLOUD_SECRETID/SECRETKEY/"
            "SESSIONTOKEN) or set ALARM_CALLBACK_TENCENT_SECRET_ID and _SECRET_KEY"
        )
    retryer = Retryer(settings.max_attempts, settings.retry_delay)
    profile = ClientProfile(httpProfile=http_profile(settings, endpoint), language="en-US", retryer=retryer)
    # Imported here so the reconciler (monitor SDK only) does not need the TDMQ package.
    from tencentcloud.tdmq.v20200217.tdmq_client import TdmqClient

    return TdmqClient(credential, region, profile)


def reset_clients() -> None:
    """Forget built clients (tests that move between endpoints or keys)."""
    with _lock:
        _build.cache_clear()


def error_text(exc: Exception) -> str:
    """A short description of a failed call: the API error code and request id when known."""
    if isinstance(exc, TencentCloudSDKException):
        request_id = exc.get_request_id()
        suffix = f" (RequestId {request_id})" if request_id else ""
        return f"{exc.get_code()}: {exc.get_message()}{suffix}"
    return f"{type(exc).__name__}: {exc}"
