"""The composition root: the one place that turns `Settings` into a working receiver.

Everything below it takes plain values: the core gets a timezone, limits and an
`Authenticator` built from strings; backends get their URL and `BackendOptions`. Function
entry points (`alarm_callback.edges.entry`), the command line and the tests all build
through here, so a setting means the same thing everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..backends.options import AwsOptions, BackendOptions, TencentOptions
from ..backends.registry import build_publisher, build_quarantine, build_store
from ..core.auth import Authenticator
from ..core.errors import ConfigError
from ..core.identity_scheme import IdentityScheme
from ..core.outbox import Store
from ..core.ports import Publisher, Quarantine
from ..core.receiver import Receiver
from ..core.targets import DROP_URL, parse_targets
from ..core.times import load_timezone
from .settings import Settings

if TYPE_CHECKING:
    from ..backends.tencent.history import TencentHistory


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter is not None else None


def backend_options(settings: Settings) -> BackendOptions:
    return BackendOptions(
        ttl_seconds=settings.dedup_ttl_seconds,
        lease_seconds=settings.claim_lease_seconds,
        aws=AwsOptions(settings.aws_connect_timeout, settings.aws_read_timeout, settings.aws_max_attempts),
        tencent=tencent_options(settings),
    )


def tencent_options(settings: Settings) -> TencentOptions:
    return TencentOptions(
        region=settings.tencent_region,
        endpoint=settings.tencent_endpoint,
        secret_id=_secret(settings.tencent_secret_id),
        secret_key=_secret(settings.tencent_secret_key),
        session_token=_secret(settings.tencent_session_token),
        timeout=settings.tencent_timeout,
        max_attempts=settings.tencent_max_attempts,
        retry_delay=settings.tencent_retry_delay,
    )


def store_from_settings(settings: Settings) -> Store:
    return build_store(settings.store_url, backend_options(settings))


def publisher_from_settings(settings: Settings) -> Publisher:
    """The default route (`QUEUE_URL`: one publisher, or a `FanOut`) alone, or a `Router`
    over `ROUTES` and the default route when rules are set or the default is ``drop://``
    (so its drops are logged). Each distinct URL is built once, however many routes name it."""
    options = backend_options(settings)
    rules = settings.route_rules()
    default = parse_targets(settings.queue_url, "ALARM_CALLBACK_QUEUE_URL")
    if not rules and default != (DROP_URL,):
        return build_publisher(settings.queue_url, options)
    from ..core.routing import Router  # only here: see `Settings.route_rules`

    urls = dict.fromkeys([*default, *(url for rule in rules for url in rule.targets)])
    return Router(rules, default, {url: build_publisher(url, options) for url in urls})


def quarantine_from_settings(settings: Settings) -> Quarantine:
    return build_quarantine(settings.quarantine_url, backend_options(settings))


def authenticator(settings: Settings) -> Authenticator:
    return Authenticator(settings.accepted_tokens(), _secret(settings.basic_auth))


def receiver_from_settings(settings: Settings) -> Receiver:
    options = backend_options(settings)
    store = build_store(settings.store_url, options)
    publisher = publisher_from_settings(settings)
    if urlsplit(settings.store_url.strip()).scheme == "sqlite":  # imports nothing otherwise
        share_sqlite_file(store, publisher)
    return Receiver(
        store,
        publisher,
        build_quarantine(settings.quarantine_url, options),
        authenticator(settings),
        tz=load_timezone(settings.timezone),
        max_body_bytes=settings.max_body_bytes,
        store_down=settings.store_down,
        event_source=settings.event_source,
        record_occurrences=settings.record_occurrences,
        episode_ttl_seconds=settings.episode_ttl_seconds,
        flap_threshold=settings.flap_threshold,
        flap_window_seconds=settings.flap_window_seconds,
        identity=IdentityScheme.from_json(settings.identity_fields),
    )


def share_sqlite_file(store: Store, publisher: Publisher) -> None:
    """The local layout: an SQLite outbox and local queue named by the same path commit
    each alarm's claim, publish and mark as one transaction (`SQLiteStore.share_file`,
    `Store.together`)."""
    from ..backends.sqlite.store import SQLiteStore

    if isinstance(store, SQLiteStore):
        store.share_file(publisher)


def history_from_settings(settings: Settings) -> TencentHistory:
    """The Tencent alarm-history client of the reconciler (imports the monitor SDK)."""
    from ..backends.tencent.history import TencentHistory, monitor_client

    return TencentHistory(
        monitor_client(tencent_options(settings), settings.reconcile_endpoint),
        page_size=settings.reconcile_page_size,
        max_retries=settings.reconcile_max_retries,
        rate_per_second=settings.reconcile_rate_per_second,
        monitor_types=tuple(t.strip() for t in settings.reconcile_monitor_types.split(",") if t.strip()),
    )


def require_markers(settings: Settings) -> None:
    """Without occurrence markers every alarm in the history looks undelivered."""
    if not settings.record_occurrences:
        raise ConfigError(
            "ALARM_CALLBACK_RECORD_OCCURRENCES is false: the receiver writes no occurrence markers, so every "
            "alarm in the history would look undelivered and be published again. Turn it on (and let it run "
            "for longer than --since) before reconciling"
        )
