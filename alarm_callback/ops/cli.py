"""`alarm-callback` (also `python -m alarm_callback`): serve, send, tail, quarantine, replay, sweep, reconcile.

Human-readable output by default; `--json` prints one JSON object per line for scripts.
Every command reads the same ``ALARM_CALLBACK_*`` settings as the functions do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..config import logs
from ..config.settings import Settings
from ..config.wiring import receiver_from_settings
from ..core.errors import ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"alarm-callback: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alarm-callback", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the local server (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("send", help="post alarm files (default: the seed samples) like Tencent does")
    p.add_argument("url", help="callback URL, e.g. http://127.0.0.1:8080/callback/TOKEN")
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each ack (Tencent: 5)")
    p.add_argument("--resends", type=int, default=3, help="resends after a missing/wrong ack (Tencent: 3)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_send)

    p = sub.add_parser("tail", help="show messages in the local queue")
    p.add_argument("--json", action="store_true", help="one CloudEvent JSON per line")
    p.add_argument("--follow", "-f", action="store_true", help="keep waiting for new messages")
    p.set_defaults(run=cmd_tail)

    p = sub.add_parser("quarantine", help="list bodies that were refused")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(run=cmd_quarantine)

    p = sub.add_parser("replay", help="send quarantined bodies through the receiver again")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_replay)

    p = sub.add_parser("sweep", help="publish outbox records whose hand-off failed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_sweep)

    p = sub.add_parser("reconcile", help="publish alarms from the Tencent alarm history that no callback delivered")
    p.add_argument("--since", help="look back this far, by first occurrence (default 30m; s, m, h, d)")
    p.add_argument("--until", help="leave the most recent this long to live callbacks (default 5m)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_reconcile)
    return parser


# -- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..edges.asgi import App

    settings = Settings()
    logs.configure(settings.log_level, settings.secrets())
    receiver = receiver_from_settings(settings)
    print(banner(settings, args.host, args.port), file=sys.stderr, flush=True)
    uvicorn.run(App(receiver), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def banner(settings: Settings, host: str, port: int) -> str:
    base = f"http://{host}:{port}/callback"
    lines = [f"alarm-callback {__version__} listening on {base}"]
    if settings.token is not None:
        url = f"{base}/{settings.token.get_secret_value()}"
    elif settings.basic_auth is not None:
        url = f"http://{settings.basic_auth.get_secret_value()}@{host}:{port}/callback"
    else:
        url = base
        lines += [
            "",
            "!" * 78,
            "!! WARNING: no credential configured: ANYONE who can reach this port can post alarms.",
            "!! Set ALARM_CALLBACK_TOKEN or ALARM_CALLBACK_BASIC_AUTH before exposing it.",
            "!" * 78,
        ]
    lines += [
        "",
        f"Callback URL for the Tencent Cloud Monitor console: {url}",
        "  (Tencent must reach it over the public network: expose it through a tunnel, or deploy.)",
        f"store={settings.store_url} queue={settings.queue_url} quarantine={settings.quarantine_url}",
        "",
        "Try it:",
        f"  curl -s -X POST -H 'content-type: application/json' --data @alarm_callback/samples/metric.json '{url}'",
        f"  alarm-callback send '{url}'",
        "  alarm-callback tail --json",
    ]
    return "\n".join(lines)


# -- send ----------------------------------------------------------------------------------


def cmd_send(args: argparse.Namespace) -> int:
    from .. import samples
    from .sender import deliver

    bodies = {str(path): path.read_bytes() for path in args.files} if args.files else samples.load()
    failed = 0
    for name, body in bodies.items():
        delivery = deliver(args.url, name, body, timeout=args.timeout, resends=args.resends)
        failed += not delivery.acked
        if args.json:
            _print_json(delivery.to_json())
            continue
        last = delivery.attempts[-1]
        tries = len(delivery.attempts)
        if delivery.acked:
            print(f"acked    {name} sessionId={delivery.session_id} after {tries} attempt(s)")
        else:
            why = last.error or f"HTTP {last.status}: {last.body[:200]}"
            print(f"NOT ACKED {name} sessionId={delivery.session_id} after {tries} attempt(s): {why}")
    if not args.json:
        print(f"{len(bodies) - failed} acked, {failed} not acked")
    return 1 if failed else 0


# -- tail ----------------------------------------------------------------------------------


def _local_queue(settings: Settings) -> Any:
    from ..backends.sqlite.db import path_of
    from ..backends.sqlite.queue import SQLiteQueue

    for url in settings.queue_url.split(","):
        parts = urlsplit(url.strip())
        if parts.scheme == "sqlite":
            return SQLiteQueue(path_of(parts))
    raise ConfigError(f"tail reads a sqlite:// queue; QUEUE_URL is {settings.queue_url!r}")


def cmd_tail(args: argparse.Namespace) -> int:
    queue = _local_queue(Settings())
    seq = 0
    while True:
        for item in queue.read(after=seq):
            seq = item.seq
            if args.json:
                print(item.message.body, flush=True)
            else:
                print(_describe(item.seq, json.loads(item.message.body)), flush=True)
        if not args.follow:
            return 0
        time.sleep(0.5)


def _describe(seq: int, event: dict[str, Any]) -> str:
    data = event.get("data", {})
    cond = data.get("condition") or {}
    evt = data.get("event") or {}
    what = cond.get("metric_name") or evt.get("event_name") or "-"
    value = f" value={cond['current_value']}" if cond.get("current_value") is not None else ""
    return (
        f"#{seq} {event.get('time', '')} {event.get('alarmstatus', '?'):8} {event.get('alarmkind', '?'):7} "
        f"id={event.get('id')} object={event.get('subject') or '-'} {what}{value} "
        f"policy={(data.get('policy') or {}).get('id') or '-'}"
    )


# -- quarantine / replay / sweep -----------------------------------------------------------


def cmd_quarantine(args: argparse.Namespace) -> int:
    from ..config.wiring import quarantine_from_settings

    items = quarantine_from_settings(Settings()).list(args.limit)
    for item in items:
        if args.json:
            _print_json(item.to_json())
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.received_at))
            preview = item.body[:80].decode("utf-8", "replace").replace("\n", " ")
            print(f"{item.id} {when}Z {item.reason:14} {item.detail[:60]!r} body={preview!r}")
    if not args.json:
        print(f"{len(items)} quarantined")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    receiver = receiver_from_settings(Settings())
    items = receiver.quarantine.list(limit=10_000)
    accepted = 0
    for item in items:
        result = receiver.accept(item.body, source="replay", quarantine=False)
        ok = result.response.status == 200
        if ok:
            receiver.quarantine.delete(item.id)
            accepted += 1
        if args.json:
            _print_json(
                {
                    "id": item.id,
                    "status": result.response.status,
                    "outcome": result.outcome.value,
                    "reason": result.reason,
                }
            )
        else:
            print(f"{item.id} -> HTTP {result.response.status} {result.outcome.value} {result.reason or ''}".rstrip())
    if not args.json:
        print(f"{accepted} replayed, {len(items) - accepted} still quarantined")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..core.sweeper import sweep

    settings = Settings()
    receiver = receiver_from_settings(settings)
    report = sweep(
        receiver.store,
        receiver.publisher,
        receiver.builder,
        quarantine=receiver.quarantine,
        max_attempts=settings.sweep_max_attempts,
    )
    if args.json:
        _print_json(asdict(report))
    else:
        print(
            f"found {report.found} stale pending, published {report.published}, failed {report.failed}, purged {report.purged}"
        )
    return 1 if report.failed else 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from ..config.wiring import history_from_settings, require_markers
    from ..reconcile.report import render
    from ..reconcile.run import HistoryError, parse_duration, reconcile

    settings = Settings()
    require_markers(settings)
    receiver = receiver_from_settings(settings)
    try:
        report = reconcile(
            history_from_settings(settings),
            receiver.store,
            receiver.publisher,
            since=parse_duration(args.since or settings.reconcile_since),
            until=parse_duration(args.until or settings.reconcile_until),
            event_source=settings.event_source,
        )
    except HistoryError as exc:
        print(f"alarm-callback: alarm history unavailable, nothing published: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(report.to_json())
    else:
        print(render(report))
    return 1 if report.failed else 0


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
