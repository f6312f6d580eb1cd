"""`alarm-callback serve`: the local server, and the banner it prints once it listens."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from importlib.util import find_spec
from typing import Literal
from urllib.parse import urlsplit

from .. import __version__
from ..config import logs
from ..config.settings import Settings
from ..config.wiring import receiver_from_settings

CLI = ".venv/bin/alarm-callback"


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
    loop, http = served_stack()
    config = uvicorn.Config(App(receiver), log_level="warning", access_log=False, loop=loop, http=http)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def served_stack() -> tuple[Literal["uvloop", "asyncio"], Literal["httptools", "h11"]]:
    """uvicorn's event loop and HTTP parser for `serve`: uvloop + httptools, which the
    ``local`` extra installs (``uvicorn[standard]``), else plain uvicorn's asyncio + h11.
    Named, not left to uvicorn's "auto", so the bench's floor runs on the same stack."""
    if find_spec("uvloop") is not None and find_spec("httptools") is not None:
        return "uvloop", "httptools"
    return "asyncio", "h11"


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
