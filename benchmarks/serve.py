"""`python -m benchmarks.serve subject|floor --port P --dir D`: one server of the local-server
section, both under the same uvicorn settings. The subject is what `alarm-callback serve`
runs (JSON log line per callback included, written to /dev/null here), on the same stack
(`ops.serve.served_stack`: uvloop + httptools when installed)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

LAYOUTS = ("defaults", "one-file")


def layout_files(directory: str, layout: str) -> tuple[str, str]:
    """The store and queue files of a subject server in `directory`. ``defaults``: the
    file names of `Settings`' default URLs (what `make run` writes under .data/), so the
    bench follows the default layout; ``one-file``: the outbox and the local queue in one
    file, which makes each alarm one SQLite transaction (`SQLiteStore.share_file`)."""
    from urllib.parse import urlsplit

    from alarm_callback.backends.sqlite.db import path_of
    from alarm_callback.config.settings import Settings

    def name(field: str) -> str:
        return os.path.basename(path_of(urlsplit(str(Settings.model_fields[field].default))))

    store = os.path.join(directory, name("store_url"))
    return store, store if layout == "one-file" else os.path.join(directory, name("queue_url"))


def app(kind: str, directory: str, layout: str = "defaults") -> Any:
    if kind == "floor":
        from .baselines.floor_app import FloorApp

        return FloorApp(directory)
    from alarm_callback.config import logs as log
    from alarm_callback.config.settings import Settings
    from alarm_callback.config.wiring import receiver_from_settings
    from alarm_callback.edges.asgi import App

    store, queue = layout_files(directory, layout)
    settings = Settings(
        store_url=f"sqlite:///{store}",
        queue_url=f"sqlite:///{queue}",
        quarantine_url=f"sqlite:///{directory}/quarantine.db",
        token=os.environ.get("ALARM_CALLBACK_TOKEN"),
    )
    log.configure(settings.log_level, settings.secrets())
    return App(receiver_from_settings(settings))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["subject", "floor"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--layout", choices=LAYOUTS, default="defaults")
    args = parser.parse_args()
    import uvicorn

    from alarm_callback.ops.serve import served_stack

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - per-callback log lines: written, not kept
    loop, http = served_stack()  # what `alarm-callback serve` runs on, for the floor too
    uvicorn.run(
        app(args.kind, args.dir, args.layout),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop=loop,
        http=http,
    )


if __name__ == "__main__":
    main()
