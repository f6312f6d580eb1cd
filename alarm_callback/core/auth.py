"""Who may post: a secret token in the URL, or HTTP Basic auth.

Tencent signs nothing and calls from changing addresses; the only credential it can send
is one written into the callback URL (`https://user:pass@host/...` becomes a Basic auth
header, `/callback/<token>` or `?token=` stay in the URL). Comparisons are constant-time
and a failure never says which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Sequence

from .http import Request

log = logging.getLogger("alarm_callback")


class Authenticator:
    """`token` is one accepted token or several (the current one and, during a rotation,
    the previous one): each is compared in constant time, all of them every time."""

    def __init__(self, token: str | Sequence[str] | None = None, basic_auth: str | None = None) -> None:
        tokens = [token] if isinstance(token, str) else list(token or ())
        self._tokens = tuple(t.encode() for t in tokens if t)
        self._basic = basic_auth.encode() if basic_auth else None

    @property
    def open(self) -> bool:
        return not self._tokens and self._basic is None

    def check(self, request: Request) -> bool:
        if self.open or request.authenticated:
            return True
        ok = False
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        query = request.query.get("token", "")
        for token in self._tokens:
            ok |= _equal(segment, token)
            ok |= _equal(query, token)
        if self._basic is not None:
            ok |= _equal(_basic_credentials(request.headers.get("authorization", "")), self._basic)
        return ok


def _equal(given: str | bytes, expected: bytes) -> bool:
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, expected)


def _basic_credentials(header: str) -> bytes:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return b""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""
