"""Cloud Monitor's alarm history (DescribeAlarmHistories, API 2018-07-24) for the reconciler.

The only module that imports ``tencentcloud-sdk-python-monitor``. Credentials and region
come from `clouds.tencent` (explicit ``ALARM_CALLBACK_TENCENT_SECRET_ID``/``_SECRET_KEY``,
else the SCF execution role; ``ALARM_CALLBACK_TENCENT_REGION`` else the function's region).
The endpoint is the reconciler's own (``ALARM_CALLBACK_RECONCILE_ENDPOINT``), because
``ALARM_CALLBACK_TENCENT_ENDPOINT`` names the TDMQ host.

The request is built with the SDK's typed ``DescribeAlarmHistoriesRequest`` and sent with
the monitor client's ``call_json`` (same signing, same error handling), so each record
reaches ``Alarm.raw`` exactly as the API sent it, fields newer than the installed SDK
included.

Limits: 20 calls per second per account. Calls are spaced to ``rate_per_second``;
``RequestLimitExceeded`` (and network errors, ``InternalError``) are retried with an
exponential back-off at most ``max_retries`` times. Any other error, or retries running
out, raises `HistoryError` and the reconciler publishes nothing for the window.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.monitor.v20180724 import models
from tencentcloud.monitor.v20180724.monitor_client import MonitorClient

from ...core.errors import ConfigError
from ...reconcile.run import HistoryError, Listing
from ..options import TencentOptions
from .clients import Credential, http_profile, region_of

log = logging.getLogger("alarm_callback")

ACTION = "DescribeAlarmHistories"
RETRYABLE = ("RequestLimitExceeded", "InternalError", "ClientNetworkError", "ServerNetworkError")
MAX_PAGES = 1000  # 100,000 records: a window this busy should be split, not half-read
CALL_TIMEOUT = 10.0  # seconds; the reconciler is not on the 5 s callback path


def _retryable(code: str) -> bool:
    return any(code == prefix or code.startswith(prefix + ".") for prefix in RETRYABLE)


class TencentHistory:
    """`reconcile.HistorySource` over the Cloud Monitor API."""

    def __init__(
        self,
        client: Any,
        *,
        page_size: int = 100,
        max_retries: int = 5,
        rate_per_second: float = 10.0,
        monitor_types: tuple[str, ...] = ("MT_QCE",),
        max_pages: int = MAX_PAGES,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= page_size <= 100:
            raise ConfigError(f"page_size must be 1..100 (the API's limit), not {page_size}")
        self.client = client
        self.page_size = page_size
        self.max_retries = max_retries
        self.interval = 1.0 / rate_per_second
        self.monitor_types = monitor_types
        self.max_pages = max_pages
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._last_call: float | None = None
        self._lock = threading.Lock()

    # -- HistorySource ---------------------------------------------------------------------

    def list(self, start: int, end: int) -> Listing:
        records: list[dict[str, Any]] = []
        requests = throttled = pages = 0
        page = 1
        while True:
            body, tries, limited = self._call(self._params(start, end, page))
            requests += tries
            throttled += limited
            pages += 1
            histories, total = _page(body)
            records.extend(histories)
            if not histories or page * self.page_size >= total:
                return Listing(records, requests=requests, pages=pages, throttled=throttled)
            if pages >= self.max_pages:
                raise HistoryError(
                    "TooManyRecords",
                    f"{total} records in the window exceed {self.max_pages} pages of {self.page_size}; "
                    "reconcile a shorter window",
                )
            page += 1

    # -- one call --------------------------------------------------------------------------

    def _params(self, start: int, end: int, page: int) -> dict[str, Any]:
        request = models.DescribeAlarmHistoriesRequest()
        request.Module = "monitor"
        request.PageNumber = page
        request.PageSize = self.page_size
        request.Order = "ASC"  # oldest first: records that appear meanwhile land on later pages
        request.StartTime = start
        request.EndTime = end
        if self.monitor_types:
            request.MonitorTypes = list(self.monitor_types)
        params: dict[str, Any] = json.loads(request.to_json_string())
        return params

    def _call(self, params: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
        """(response, calls made, throttled answers). Retries what is worth retrying."""
        throttled = 0
        for attempt in range(self.max_retries + 1):
            self._pace()
            try:
                response = self.client.call_json(ACTION, params)
            except TencentCloudSDKException as exc:
                code = str(exc.get_code() or "UnknownError")
                if code.startswith("RequestLimitExceeded"):
                    throttled += 1
                if not _retryable(code) or attempt == self.max_retries:
                    raise HistoryError(code, str(exc.get_message() or ""), exc.get_request_id()) from exc
                delay = min(self.backoff * 2**attempt, 8.0)
                log.warning("alarm history call failed (%s), retrying in %.1fs", code, delay)
                self._sleep(delay)
                continue
            if not isinstance(response, dict):
                raise HistoryError("MalformedResponse", f"{ACTION} answered a {type(response).__name__}")
            return response, attempt + 1, throttled
        raise AssertionError("unreachable")  # pragma: no cover

    def _pace(self) -> None:
        """Space calls `interval` apart: the API's 20/s is per account, shared with others."""
        with self._lock:
            now = self._clock()
            if self._last_call is not None:
                wait = self._last_call + self.interval - now
                if wait > 0:
                    self._sleep(wait)
                    now += wait
            self._last_call = now


def _page(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    response = body.get("Response", body)
    if not isinstance(response, dict):
        raise HistoryError("MalformedResponse", f"{ACTION}: 'Response' is not an object")
    histories = response.get("Histories") or []
    total = response.get("TotalCount")
    if not isinstance(histories, list) or not all(isinstance(h, dict) for h in histories):
        raise HistoryError("MalformedResponse", f"{ACTION}: 'Histories' is not a list of objects")
    if isinstance(total, bool) or not isinstance(total, int):
        raise HistoryError("MalformedResponse", f"{ACTION}: 'TotalCount' is {json.dumps(total)}")
    return histories, total


def monitor_client(options: TencentOptions, endpoint: str | None = None) -> Any:
    """A Cloud Monitor client with the Tencent backends' credentials and region; no SDK
    retryer (`TencentHistory` retries itself) and a timeout for a scheduled job."""
    settings = options
    credential = Credential(settings)
    if not credential.available:
        raise ConfigError(
            "no Tencent credentials for the alarm history: give the function an execution role with "
            "monitor:DescribeAlarmHistories, or set ALARM_CALLBACK_TENCENT_SECRET_ID and _SECRET_KEY"
        )
    # Always name the host: with None, http_profile would fall back to TENCENT_ENDPOINT (TDMQ's).
    profile_http = http_profile(settings, endpoint or "monitor.tencentcloudapi.com")
    profile_http.reqTimeout = CALL_TIMEOUT
    profile = ClientProfile(httpProfile=profile_http, language="en-US")
    return MonitorClient(credential, region_of(settings), profile)
