"""`alarm-callback` (also `python -m alarm_callback`): serve, send, tail, quarantine, replay, sweep, reconcile, example-message.

Human-readable output by default; `--json` prints one JSON object per line for scripts.
Every command reads the same ``ALARM_CALLBACK_*`` settings as the functions do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from .. import __version__
from ..config.settings import Settings
from ..config.wiring import receiver_from_settings
from ..core.errors import ConfigError
from .output import print_json
from .quarantine import cmd_quarantine, cmd_quarantine_delete, cmd_quarantine_purge, cmd_replay
from .serve import banner, cmd_serve

__all__ = ["banner", "main"]
# Values never echoed in a configuration error (ROUTES: its target URLs may hold passwords).
_SECRET_FIELDS = ("token", "previous_token", "basic_auth", "tencent_secret_id", "tencent_secret_key", "routes")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"alarm-callback: configuration error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"alarm-callback: configuration error: {setting_error(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `alarm-callback tail | head -1`: the reader left; stop quietly. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def setting_error(exc: ValidationError) -> str:
    """One line per bad setting: the variable, its value (unless secret) and the rule."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = f"ALARM_CALLBACK_{field.upper()}" if field else "settings"
        shown = "" if field in _SECRET_FIELDS or not field else f"={error.get('input')}"
        rule = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}{shown}: {rule}")
    return "; ".join(lines)


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="alarm-callback", description=__doc__, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, formatter_class=fmt, **kwargs)

    p = add("serve", help="run the local server (uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    p.set_defaults(run=cmd_serve)

    p = add("send", help="post alarm files (default: the seed samples) like Tencent does")
    p.add_argument("url", help="callback URL, e.g. http://127.0.0.1:8080/callback/TOKEN")
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each ack (Tencent: 5)")
    p.add_argument("--resends", type=int, default=3, help="resends after a missing/wrong ack (Tencent: 3)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_send)

    p = add("tail", help="show the newest messages in the local queue")
    p.add_argument("--json", action="store_true", help="one CloudEvent JSON per line")
    p.add_argument("-n", type=int, default=20, dest="count", help="how many of the newest messages")
    p.add_argument("--all", action="store_true", help="every message, oldest first")
    p.add_argument("--follow", "-f", action="store_true", help="keep waiting for new messages")
    p.set_defaults(run=cmd_tail)

    p = add("quarantine", help="list (default), delete or purge bodies that were refused")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(run=cmd_quarantine)
    actions = p.add_subparsers(metavar="ACTION")
    q = actions.add_parser("list", help="list quarantined bodies (the default)", formatter_class=fmt)
    q.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    q.add_argument("--limit", type=int, default=argparse.SUPPRESS)
    q.set_defaults(run=cmd_quarantine)
    q = actions.add_parser("delete", help="delete quarantined items by id", formatter_class=fmt)
    q.add_argument("ids", nargs="+", metavar="ID")
    q.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    q.set_defaults(run=cmd_quarantine_delete)
    q = actions.add_parser("purge", help="delete quarantined items older than a duration", formatter_class=fmt)
    q.add_argument("--older-than", required=True, default=argparse.SUPPRESS, help="e.g. 7d, 12h, 30m")
    q.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    q.set_defaults(run=cmd_quarantine_purge)

    p = add("replay", help="send quarantined bodies through the receiver again")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_replay)

    p = add("example-message", help="print the message consumers get for the seed metric sample (README)")
    p.set_defaults(run=cmd_example_message)

    p = add("sweep", help="publish outbox records whose hand-off failed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_sweep)

    p = add("reconcile", help="publish alarms from the Tencent alarm history that no callback delivered")
    p.add_argument("--since", help="look back this far, by first occurrence (default 30m; s, m, h, d)")
    p.add_argument("--until", help="leave the most recent this long to live callbacks (default 5m)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_reconcile)
    return parser


# -- serve ---------------------------------------------------------------------------------


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
            print_json(delivery.to_json())
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
            path = path_of(parts)
            if path != ":memory:" and not Path(path).is_file():
                raise ConfigError(
                    f"no queue file at {path} (ALARM_CALLBACK_QUEUE_URL={settings.queue_url}): "
                    "nothing was published here yet, or the server uses another QUEUE_URL"
                )
            print(f"reading {path}", file=sys.stderr, flush=True)
            return SQLiteQueue(path)
    raise ConfigError(f"tail reads a sqlite:// queue; QUEUE_URL is {settings.queue_url!r}")


def cmd_tail(args: argparse.Namespace) -> int:
    queue = _local_queue(Settings())
    seq = 0
    if not args.all:  # start just before the newest N
        row = (
            queue.db.connection()
            .execute("SELECT seq FROM messages ORDER BY seq DESC LIMIT 1 OFFSET ?", (max(args.count, 1) - 1,))
            .fetchone()
        )
        seq = row["seq"] - 1 if row is not None else 0
        if args.count <= 0:
            seq = queue.db.connection().execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()[0]
    while True:
        batch = list(queue.read(after=seq))
        for item in batch:
            seq = item.seq
            if args.json:
                print(item.message.body, flush=True)
            else:
                print(_describe(item.seq, json.loads(item.message.body)), flush=True)
        if batch:
            continue  # read() pages; drain before waiting
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


def cmd_example_message(args: argparse.Namespace) -> int:
    from .example import example_message

    print(example_message())
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
        print_json(asdict(report))
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
        print_json(report.to_json())
    else:
        print(render(report))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
