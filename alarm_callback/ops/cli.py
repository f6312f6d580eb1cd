"""`alarm-callback` (also `python -m alarm_callback`): serve, send, tail, quarantine, replay, sweep, reconcile.

Human-readable output by default; `--json` prints one JSON object per line for scripts.
Every command reads the same ``ALARM_CALLBACK_*`` settings as the functions do.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from .. import __version__
from ..config import logs
from ..config.settings import Settings
from ..config.wiring import receiver_from_settings
from ..core.errors import ConfigError
from ..core.ports import Quarantined

CLI = ".venv/bin/alarm-callback"
_SECRET_FIELDS = ("token", "previous_token", "basic_auth", "tencent_secret_id", "tencent_secret_key")


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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..edges.asgi import App

    settings = Settings()
    settings.check_tokens()  # an unset token may stay unset locally; a set one follows the rules
    logs.configure(settings.log_level, settings.secrets())
    receiver = receiver_from_settings(settings)
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        print(
            f"alarm-callback: cannot listen on {args.host}:{args.port}: {os.strerror(exc.errno) if exc.errno else exc}",
            file=sys.stderr,
        )
        return 1
    port = int(sock.getsockname()[1])
    print(banner(settings, args.host, port), file=sys.stderr, flush=True)
    config = uvicorn.Config(App(receiver), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def listen(host: str, port: int) -> socket.socket:
    """Bind before anything is printed, so a busy port is an error, not a banner."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family)


def mask_url(url: str) -> str:
    """`redis://:pw@host` -> `redis://:***@host` (and `amqp://user:pw@...` alike)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _masked_urls(urls: str) -> str:
    return ",".join(mask_url(u.strip()) for u in urls.split(","))


def banner(settings: Settings, host: str, port: int) -> str:
    """What `serve` prints once it listens. Secrets are shown as *** (the banner ends up in
    terminals and CI logs); the "Try it" lines read them from the environment instead."""
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{port}/callback"
    lines = [f"alarm-callback {__version__} listening on {base}"]
    if settings.token is not None:
        url = f"{base}/***"
        runnable = f'"{base}/$ALARM_CALLBACK_TOKEN"'
        note = "  (*** is ALARM_CALLBACK_TOKEN)"
    elif settings.basic_auth is not None:
        url = f"http://***@{shown_host}:{port}/callback"
        runnable = f'"http://$ALARM_CALLBACK_BASIC_AUTH@{shown_host}:{port}/callback"'
        note = "  (*** is ALARM_CALLBACK_BASIC_AUTH, user:password)"
    else:
        url, runnable, note = base, f"'{base}'", ""
        lines += [
            "",
            "!" * 78,
            "!! WARNING: no credential configured: ANYONE who can reach this port can post alarms.",
            "!! Set ALARM_CALLBACK_TOKEN or ALARM_CALLBACK_BASIC_AUTH before exposing it.",
            "!" * 78,
        ]
    lines += [
        "",
        f"Callback URL for the Tencent Cloud Monitor console: {url}{note}",
        "  (Tencent must reach it over the public network: expose it through a tunnel, or deploy.)",
        f"store={_masked_urls(settings.store_url)} queue={_masked_urls(settings.queue_url)} "
        f"quarantine={_masked_urls(settings.quarantine_url)}",
        "",
        "Try it:",
        f"  curl -s -X POST -H 'content-type: application/json' --data @alarm_callback/samples/metric.json {runnable}",
        f"  {CLI} send {runnable}",
        f"  {CLI} tail --json",
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


def iso(timestamp: float) -> str:
    """Epoch seconds -> ISO 8601 UTC, the form of every time the CLI prints."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def quarantined_json(item: Quarantined) -> dict[str, Any]:
    return {**item.to_json(), "received_at": iso(item.received_at)}


def _reason(item: Quarantined) -> str:
    """A truncated body is reported as such: its JSON is cut, but it was never invalid."""
    return f"{item.reason} (truncated)" if item.truncated and item.reason != "body_too_large" else item.reason


def cmd_quarantine(args: argparse.Namespace) -> int:
    from ..config.wiring import quarantine_from_settings

    items = quarantine_from_settings(Settings()).list(args.limit)
    for item in items:
        if args.json:
            _print_json(quarantined_json(item))
        else:
            preview = item.body[:80].decode("utf-8", "replace").replace("\n", " ")
            cut = f" truncated to {len(item.body)} bytes" if item.truncated else ""
            print(f"{item.id} {iso(item.received_at)} {_reason(item):14} {item.detail[:60]!r}{cut} body={preview!r}")
    if not args.json:
        print(f"{len(items)} quarantined")
    return 0


def cmd_quarantine_delete(args: argparse.Namespace) -> int:
    from ..config.wiring import quarantine_from_settings

    quarantine = quarantine_from_settings(Settings())
    known = {item.id for item in quarantine.list(limit=1_000_000)}
    missing = 0
    for item_id in args.ids:
        found = item_id in known
        if found:
            quarantine.delete(item_id)
        missing += not found
        if getattr(args, "json", False):
            _print_json({"id": item_id, "deleted": found})
        else:
            print(f"{item_id} {'deleted' if found else 'not found'}")
    return 1 if missing else 0


def cmd_quarantine_purge(args: argparse.Namespace) -> int:
    from ..config.wiring import quarantine_from_settings
    from ..reconcile.run import parse_duration

    cutoff = time.time() - parse_duration(args.older_than)
    quarantine = quarantine_from_settings(Settings())
    old = [item for item in quarantine.list(limit=1_000_000) if item.received_at < cutoff]
    for item in old:
        quarantine.delete(item.id)
    if getattr(args, "json", False):
        _print_json({"purged": len(old), "older_than": args.older_than, "before": iso(cutoff)})
    else:
        print(f"purged {len(old)} quarantined item(s) received before {iso(cutoff)}")
    return 0


def replay_body(item: Quarantined) -> tuple[bytes | None, str | None]:
    """The alarm to replay for a quarantined item, or None and why it cannot be replayed.

    A truncated body is not replayed (its end is gone). A whole platform event the entry
    could not route (unknown_event, bad_event) is unwrapped: its ``body`` field, base64
    decoded when ``isBase64Encoded`` says so, is the alarm Tencent sent."""
    if item.truncated:
        return None, f"truncated: only the first {len(item.body)} bytes were kept"
    if item.reason not in ("unknown_event", "bad_event"):
        return item.body, None
    try:
        event = json.loads(item.body)
    except ValueError:
        return None, "platform event is not JSON"
    body = event.get("body") if isinstance(event, dict) else None
    if not isinstance(body, str):
        return None, "platform event has no body field"
    if event.get("isBase64Encoded") is True or str(event.get("isBase64Encoded")).lower() == "true":
        try:
            return base64.b64decode(body, validate=True), None
        except (binascii.Error, ValueError):
            return None, "platform event body is not valid base64"
    return body.encode("utf-8"), None


def cmd_replay(args: argparse.Namespace) -> int:
    receiver = receiver_from_settings(Settings())
    items = receiver.quarantine.list(limit=10_000)
    accepted = 0
    for item in items:
        body, why = replay_body(item)
        if body is None:
            status, outcome, reason = None, "kept", why
        else:
            result = receiver.accept(body, source="replay", quarantine=False)
            status, outcome, reason = result.response.status, result.outcome.value, result.reason
        if status == 200:
            receiver.quarantine.delete(item.id)
            accepted += 1
        if args.json:
            _print_json({"id": item.id, "status": status, "outcome": outcome, "reason": reason})
        else:
            print(f"{item.id} -> {f'HTTP {status}' if status else 'not replayed'} {outcome} {reason or ''}".rstrip())
    if not args.json:
        print(f"{accepted} replayed, {len(items) - accepted} still quarantined")
    return 0


def cmd_example_message(args: argparse.Namespace) -> int:
    from .example import example_message

    print(example_message())
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..core.sweeper import sweep

    receiver = receiver_from_settings(Settings())
    report = sweep(receiver.store, receiver.publisher, record_occurrences=receiver.record_occurrences)
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
