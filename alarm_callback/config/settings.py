"""Settings: environment variables prefixed ``ALARM_CALLBACK_``, read once per cold start.

The one settings model of the project. Only the composition root (`alarm_callback.config.wiring`)
and the command line read it; the core and the backends are handed plain values. Backends are
chosen by URL scheme (see `alarm_callback.backends.registry`), so a deployment only changes
URLs, never code. The defaults run on a laptop with nothing configured: SQLite files under
``.data/``.

Fields are flat with a group prefix (``aws_``, ``tencent_``, ``scf_``, ``reconcile_``) so the
variable names deployments already use (``ALARM_CALLBACK_TENCENT_REGION``...) stay as they are.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ..backends.registry import PUBLISHERS
from ..core.errors import ConfigError
from ..core.identity_scheme import IdentityScheme
from ..core.targets import shown_url

if TYPE_CHECKING:
    from ..core.routing import RouteRule

CALLBACK_ROUTE = "/callback"
MIN_TOKEN_LENGTH = 16
# What a template writes when a value was not substituted: CloudFormation dynamic references,
# Serverless / shell variables.
_PLACEHOLDERS = ("{{resolve:", "${", "$(")

# Cloud credentials the runtime hands the function: never logged even if an SDK quotes them.
_CLOUD_SECRETS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN",
    "ALARM_CALLBACK_TENCENT_SECRET_KEY",
    "ALARM_CALLBACK_TENCENT_SESSION_TOKEN",
)


class Settings(BaseSettings):
    # env_ignore_empty: deployment templates write unset values as "" (`${env:X}`); that means "default".
    model_config = SettingsConfigDict(env_prefix="ALARM_CALLBACK_", extra="ignore", frozen=True, env_ignore_empty=True)

    token: SecretStr | None = Field(
        None, description="Shared secret: last path segment (/callback/<token>) or ?token=."
    )
    previous_token: SecretStr | None = Field(
        None, description="The token being rotated out: accepted alongside TOKEN while Tencent's policies change over."
    )
    basic_auth: SecretStr | None = Field(
        None, description="'user:pass' for HTTP Basic auth (written into the callback URL)."
    )
    allow_unauthenticated: bool = Field(
        False, description="Let a deployed function run with neither TOKEN nor BASIC_AUTH set."
    )
    store_url: str = Field("sqlite:///.data/store.db", description="Dedup store and outbox.")
    queue_url: str = Field(
        "sqlite:///.data/store.db",
        description="Publisher(s); comma-separated URLs fan out to all. The default local queue shares the "
        "store's file, so each alarm's claim, publish and mark commit as one transaction.",
    )
    routes: str | None = Field(
        None,
        description="JSON list of routing rules, first match wins: "
        '[{"name": "...", "match": {"status": "resolved", "sequence": ">3", ...}, "to": ["URL", ...]}]; '
        "unmatched messages take QUEUE_URL; drop:// discards (logged). See docs/routing.md.",
    )
    quarantine_url: str = Field("sqlite:///.data/quarantine.db", description="Where unreadable bodies are kept.")
    timezone: str = Field("Asia/Shanghai", description="Zone of the vendor's offset-less times.")
    dedup_ttl_seconds: int = Field(86400, ge=60, description="How long a sessionId is remembered.")
    claim_lease_seconds: float = Field(
        10.0,
        gt=0,
        description="A pending claim older than this is taken over by a resend or the sweeper.",
    )
    max_body_bytes: int = Field(262144, ge=1024, description="Larger bodies get 413.")
    store_down: Literal["publish", "reject"] = Field(
        "publish",
        description="Store unreachable: publish without dedup (flagged) or answer 503 so Tencent resends.",
    )
    record_occurrences: bool = Field(
        False,
        description="Also store one marker per alarm occurrence and state, which the history reconciler matches.",
    )
    episode_ttl_seconds: int = Field(
        259200,
        ge=0,
        description="An alarm's episode record is forgotten after this long without a notification; 0: no episodes.",
    )
    flap_threshold: int = Field(
        4, ge=1, description="More than this many state changes of one alarm within FLAP_WINDOW_SECONDS: flapping."
    )
    flap_window_seconds: int = Field(3600, ge=0, description="The flapping window; 0: never flag flapping.")
    identity_fields: str | None = Field(
        None,
        description="JSON: namespace -> fingerprint fields (policy, subject, object, namespace, region, "
        "dimensions.<key>); unset namespaces keep the default rule.",
    )
    sweep_max_attempts: int = Field(
        20, ge=1, description="Claims of one outbox record before the sweeper moves it to the quarantine."
    )
    event_source: str = Field("alarm-callback", description="CloudEvents `source` of published messages.")
    log_level: str = Field("INFO", description="Python logging level.")

    # -- AWS clients (botocore standard retries; the defaults fit the 5 s window) ---------
    aws_connect_timeout: float = Field(0.5, gt=0, description="Seconds to open a connection to an AWS endpoint.")
    aws_read_timeout: float = Field(1.0, gt=0, description="Seconds to wait for an answer once connected.")
    aws_max_attempts: int = Field(2, ge=1, le=10, description="Tries per AWS call, the first included.")

    # -- Tencent Cloud API clients -------------------------------------------------------
    tencent_region: str | None = Field(None, description="API region, e.g. ap-guangzhou; default: the function's.")
    tencent_endpoint: str | None = Field(None, description="API host (or scheme://host:port); default: the SDK's.")
    tencent_secret_id: SecretStr | None = Field(None, description="Explicit key id; default: the execution role's.")
    tencent_secret_key: SecretStr | None = None
    tencent_session_token: SecretStr | None = None
    tencent_timeout: float = Field(1.5, gt=0, description="Seconds per API call attempt (connect and read).")
    tencent_max_attempts: int = Field(2, ge=1, le=5, description="Tries per call, the first included.")
    tencent_retry_delay: float = Field(0.1, ge=0, description="Seconds between tries.")

    # -- Tencent SCF API gateway reply -----------------------------------------------------
    scf_response: Literal["integration", "passthrough"] = Field(
        "integration",
        description="API gateway reply: 'integration' (integrated response on) or 'passthrough' (the ack object).",
    )

    # -- the alarm-history reconciler ------------------------------------------------------
    reconcile_since: str = Field("30m", description="Look back this far (first occurrence): 90s, 30m, 2h, 1d.")
    reconcile_until: str = Field(
        "5m", description="Lag: leave the most recent first occurrences (and recoveries) to live callbacks."
    )
    reconcile_page_size: int = Field(100, ge=1, le=100, description="Records per DescribeAlarmHistories call.")
    reconcile_max_retries: int = Field(5, ge=0, le=10, description="Retries of a throttled or failed call.")
    reconcile_rate_per_second: float = Field(
        10.0, gt=0, le=20, description="Client-side cap on calls per second (the API allows 20 per account)."
    )
    reconcile_monitor_types: str = Field("MT_QCE", description="Comma-separated MonitorTypes filter; empty = all.")
    reconcile_endpoint: str | None = Field(
        None, description="API endpoint override, e.g. monitor.ap-shanghai-fsi.tencentcloudapi.com (tests: a URL)."
    )

    @field_validator(
        "token",
        "previous_token",
        "basic_auth",
        "tencent_secret_id",
        "tencent_secret_key",
        "tencent_session_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("identity_fields")
    @classmethod
    def _identity_rules(cls, value: str | None) -> str | None:
        IdentityScheme.from_json(value)  # InvalidScheme is a ValueError: refused at start-up
        return value

    @field_validator("routes")
    @classmethod
    def _routing_rules(cls, value: str | None) -> str | None:
        """A bad rule stops the start, naming the rule; so does a target no backend serves."""
        for rule in _parse_routes(value):
            for url in rule.targets:
                scheme = urlsplit(url).scheme
                if scheme not in PUBLISHERS:
                    known = ", ".join(f"{name}://" for name in sorted(PUBLISHERS))
                    raise ConfigError(
                        f"ROUTES rule {rule.name!r}: unknown URL scheme {scheme!r} in {shown_url(url)!r} ({known})"
                    )
        return value

    @field_validator("basic_auth")
    @classmethod
    def _user_and_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and ":" not in value.get_secret_value():
            raise ValueError("BASIC_AUTH must be 'user:password'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments and the environment only. No ``.env`` file or secrets directory is
        configured, but their sources would still walk every field on each load (half of
        the load's time, once per cold start)."""
        return (init_settings, env_settings)

    def route_rules(self) -> tuple[RouteRule, ...]:
        """``ROUTES``, parsed."""
        return _parse_routes(self.routes)

    def secrets(self) -> tuple[str, ...]:
        """Every configured secret, for masking logs: the token, the Basic auth pair and its
        password, and passwords inside backend URLs (``redis://:pw@host``), routes' targets included."""
        found: list[str] = []
        found += self.accepted_tokens()
        if self.basic_auth is not None:
            pair = self.basic_auth.get_secret_value()
            found += [pair, pair.split(":", 1)[1]]
        found += [os.environ.get(name, "") for name in _CLOUD_SECRETS]
        targets = [url for rule in self.route_rules() for url in rule.targets]
        for urls in (self.store_url, self.queue_url, self.quarantine_url, *targets):
            for url in urls.split(","):
                password = urlsplit(url.strip()).password
                if password:
                    found += [password, unquote(password)]
        return tuple(sorted({s for s in found if s}, key=len, reverse=True))

    def accepted_tokens(self) -> tuple[str, ...]:
        """The token, then the previous one (during a rotation)."""
        return tuple(t.get_secret_value() for t in (self.token, self.previous_token) if t is not None)

    def check_tokens(self, route: str = CALLBACK_ROUTE) -> None:
        """Raise ConfigError (one line) when a configured token is unsafe (`token_problem`).
        The deployed entry points and the local server both call it; an unset token passes."""
        for name, value in (("TOKEN", self.token), ("PREVIOUS_TOKEN", self.previous_token)):
            problem = token_problem(value.get_secret_value(), route) if value is not None else None
            if problem:
                raise ConfigError(f"ALARM_CALLBACK_{name} {problem}")

    @property
    def has_credential(self) -> bool:
        return self.token is not None or self.basic_auth is not None


def token_problem(token: str, route: str = CALLBACK_ROUTE) -> str | None:
    """Why `token` must not guard a deployed callback URL, or None when it may.

    The token is the URL's only secret (Tencent signs nothing), so it must be long enough not
    to be guessed, must not be a segment of the route itself (`/callback/callback` would be
    accepted by a path check), and must not be a template placeholder the deployment never
    resolved (then everyone who reads the template knows it)."""
    if any(marker in token for marker in _PLACEHOLDERS):
        return "looks like an unresolved placeholder (e.g. '{{resolve:...}}' or '${...}'): the deployment did not substitute it"
    if token.strip("/") in [segment for segment in route.split("/") if segment]:
        return f"is a segment of the route {route!r}: choose a random secret"
    if len(token) < MIN_TOKEN_LENGTH:
        return f"is {len(token)} characters; use at least {MIN_TOKEN_LENGTH} (e.g. `openssl rand -hex 16`)"
    return None


def _parse_routes(text: str | None) -> tuple[RouteRule, ...]:
    """`routing.parse_routes`, importing the router only when ``ROUTES`` is set (the
    validator also sees the unset default): most deployments set none, and its module and
    rule classes are a share of a cold start."""
    if not text:
        return ()
    from ..core.routing import parse_routes

    return parse_routes(text)
