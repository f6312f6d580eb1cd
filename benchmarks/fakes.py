"""Local stand-ins the cold-start section points the real SDKs at: moto's server (DynamoDB,
SQS), a redis-server on a free port, and a minimal Tencent Cloud API endpoint that accepts
``SendCmqMsg`` (no signature check: only the client's cost is measured here)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


@contextmanager
def moto_aws() -> Iterator[dict[str, str] | str]:
    """Yields the environment that points a function at moto (table and queue created), or
    a reason string when moto's server is not installed."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        yield f"moto[server] / boto3 not installed ({exc})"
        return
    import logging

    from alarm_callback.backends.aws.dynamodb import table_definition

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
        # moto keeps its backends per process, not per server: names of their own per server
        suffix = uuid.uuid4().hex[:8]
        table, queue = f"bench-outbox-{suffix}", f"bench-alarms-{suffix}"
        boto3.client("dynamodb", endpoint_url=endpoint, **creds).create_table(**table_definition(table))  # type: ignore[call-overload]
        boto3.client("sqs", endpoint_url=endpoint, **creds).create_queue(QueueName=queue)  # type: ignore[call-overload]
        yield {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "BENCH_TABLE": table,
            "BENCH_QUEUE_URL": f"{endpoint}/{ACCOUNT}/{queue}",
            "ALARM_CALLBACK_STORE_URL": f"dynamodb://{table}",
            "ALARM_CALLBACK_QUEUE_URL": f"sqs://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}",
            "ALARM_CALLBACK_QUARANTINE_URL": "memory://",
        }
    finally:
        server.stop()


@contextmanager
def redis_server() -> Iterator[int | str]:
    """A throwaway redis-server on a free port (no persistence), or a reason string."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield "redis-server not installed (apt-get install redis-server)"
        return
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_port(port):
            yield "redis-server did not start"
        else:
            yield port
    finally:
        proc.terminate()
        proc.wait(10)


class _CMQHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = json.dumps(
            {"Response": {"Result": True, "MsgId": uuid.uuid4().hex, "RequestId": str(uuid.uuid4())}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def cmq_endpoint() -> Iterator[str]:
    """http://127.0.0.1:PORT answering every TDMQ call with success."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CMQHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
