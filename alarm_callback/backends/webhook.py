"""`https://...` / `http://...`: POST each CloudEvent to a URL, signed per Standard Webhooks.

URL: the endpoint itself plus ``secret=whsec_...`` in the query, e.g.
``https://hooks.example.com/alarms?secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw``. The secret
is taken out of the URL before anything is sent (other query parameters are kept), and
``USER:PASSWORD@`` is sent as HTTP Basic auth. Needs the ``standardwebhooks`` package
(``pip install 'alarm-callback[webhook]'``); it is imported only when such a URL is configured.

Each request (https://www.standardwebhooks.com/): body = the CloudEvent JSON byte for byte,
``Content-Type: application/json``, ``webhook-id`` = the message id (the dedup key: the same
across retries and sweeps, so the consumer drops repeats), ``webhook-timestamp`` = Unix
seconds of this attempt, ``webhook-signature`` = ``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body``. The consumer checks it with ``Webhook(secret).verify(body, headers)``.

Any 2xx is success. A 5xx, 429 or connection failure is retried up to 3 times, honouring
``Retry-After`` (seconds or an HTTP date), as long as the waits add up to at most 3 s and the
whole publish stays within 4 s (the callback has a 5 s budget); a wait that does not fit ends
the publish at once. Other answers (4xx, redirects) are not retried. Whatever fails raises
`PublishError`: the record stays pending and the sweeper sends it again later.
"""

from __future__ import annotations

import base64
import importlib
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlunsplit

from ..core.errors import ConfigError, PublishError
from ..core.message import Message
from ..core.ports import Publisher
from .options import BackendOptions

DEFAULT_TIMEOUT = 2.0
RETRIES = 3
MAX_WAIT = 3.0  # seconds spent sleeping between attempts, in all
BUDGET = 4.0  # seconds for the whole publish, attempts and waits
_BACKOFF = 0.2  # first wait without Retry-After; doubles


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would lose its body (or be re-sent unsigned elsewhere): fail instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), if readable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _signer(secret: str) -> Any:
    try:
        standardwebhooks = importlib.import_module("standardwebhooks")
    except ImportError as exc:
        raise ConfigError(
            "http(s):// webhooks need the standardwebhooks package (pip install 'alarm-callback[webhook]')"
        ) from exc
    try:
        return standardwebhooks.Webhook(secret)
    except Exception as exc:  # empty or not base64
        raise ConfigError(f"webhook secret is not a Standard Webhooks secret (whsec_<base64>): {exc}") from exc


class WebhookPublisher(Publisher):
    schemes = ("http", "https")

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = RETRIES,
        max_wait: float = MAX_WAIT,
        budget: float = BUDGET,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.budget = budget
        self._webhook = _signer(secret)
        self._headers = {"Content-Type": "application/json", "User-Agent": "alarm-callback"}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._opener = urllib.request.build_opener(_NoRedirect)

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> WebhookPublisher:
        if not url.hostname:
            raise ConfigError("webhook URL must be https://HOST[:PORT]/PATH?secret=whsec_...")
        query = parse_qsl(url.query, keep_blank_values=True)
        secrets = [value for name, value in query if name == "secret"]
        if len(secrets) != 1 or not secrets[0]:
            raise ConfigError("webhook URL needs exactly one ?secret=whsec_... (the signing secret)")
        kept = urlencode([(name, value) for name, value in query if name != "secret"])
        netloc = url.netloc.rpartition("@")[2]
        return cls(
            urlunsplit((url.scheme, netloc, url.path or "/", kept, "")),
            secrets[0],
            username=unquote(url.username) if url.username is not None else None,
            password=unquote(url.password) if url.password is not None else None,
        )

    def _attempt(self, message: Message, body: bytes, timeout: float) -> tuple[bool, str, float | None] | None:
        """One POST: None when delivered, else (retryable, what happened, Retry-After seconds)."""
        now = datetime.now(timezone.utc)
        headers = {
            **self._headers,
            "webhook-id": message.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(message.id, now, message.body),
        }
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)  # noqa: S310
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read()
            return None
        except urllib.error.HTTPError as exc:
            retryable = exc.code >= 500 or exc.code == 429
            return retryable, f"HTTP {exc.code} {exc.reason}", retry_after(exc.headers.get("Retry-After"))
        except TimeoutError as exc:  # a slow endpoint: another try would not fit the budget
            return False, f"timed out after {timeout:.1f}s ({exc})", None
        except (OSError, urllib.error.URLError) as exc:
            if isinstance(getattr(exc, "reason", None), TimeoutError):  # timed out connecting
                return False, f"timed out after {timeout:.1f}s ({exc})", None
            return True, f"unreachable: {exc}", None

    def publish(self, message: Message) -> None:
        body = message.body.encode()
        started = time.monotonic()
        waited = 0.0
        for attempt in range(self.retries + 1):
            remaining = self.budget - (time.monotonic() - started)
            failed = self._attempt(message, body, max(0.1, min(self.timeout, remaining)))
            if failed is None:
                return
            retryable, what, wait = failed
            if not retryable or attempt == self.retries:
                break
            wait = _BACKOFF * 2**attempt if wait is None else wait
            remaining = self.budget - (time.monotonic() - started)
            if waited + wait > self.max_wait or wait + 0.1 > remaining:
                what += f"; not waiting {wait:.1f}s more"
                break
            time.sleep(wait)
            waited += wait
        raise PublishError(f"webhook {self.url} failed after {attempt + 1} attempt(s): {what}")
