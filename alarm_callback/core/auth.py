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

from .http import Request


class Authenticator:
    def __init__(self, token: str | None = None, basic_auth: str | None = None) -> None:
        self._token = token.encode() if token else None
        self._basic = basic_auth.encode() if basic_auth else None

    @property
    def open(self) -> bool:
        return self._token is None and self._basic is None

    def check(self, request: Request) -> bool:
        if self.open or request.authenticated:
            return True
        ok = False
        if self._token is not None:
            ok |= _equal(request.path.rstrip("/").rsplit("/", 1)[-1], self._token)
            ok |= _equal(request.query.get("token", ""), self._token)
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
