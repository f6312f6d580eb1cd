"""The receiver: one Request in, one Response out. Pure Python; no cloud SDK.

The order is the guarantee:

1. method (405), credential (401, nothing written), size (413);
2. decode JSON and find the dedup key (400 + quarantine when either fails);
3. build the message (`MessageBuilder`: a body that is not a readable callback, or whose
   normalization fails, goes out as ``unknown`` with its raw body; one that cannot be
   encoded at all is refused 400 and quarantined), and refuse it 413 (quarantined) when
   it is larger than the configured publishers take: never acked and then stuck;
4. with episodes on, advance the alarm's episode (`episodes.EpisodeTracker`: idempotent
   per dedup key, so a resend never counts twice) and keep its mark with the input;
   a failure here is a store failure (nothing is durable yet);
5. ``store.claim`` writes the *input* (body, arrival time, source) and the body's digest
   to the outbox before anything is published; with ``record_occurrences`` the occurrence
   marker is written in the same atomic step, so the reconciler never publishes an alarm
   whose callback is owed, even when the claim took effect unseen (a lost answer, a crash);
6. publish, then ``store.mark_published`` (where the store and the publisher share one
   database, the SQLite outbox and local queue in one file, steps 4 to 6 commit as one
   write: `Store.together`; a commit that fails is a store failure, as in step 5, and
   the episode step went with it);
7. ack ``{"sessionId": ..., "retCode": 0}`` (strict JSON, always).

Once step 5 has succeeded the alarm is durable, so a later failure still acks once the
sweeper is sure to find the record (`Store.ensure_swept`: a no-op on every store but
DynamoDB, whose claims enter its pending index only then): the record stays ``pending``
and the sweeper publishes it. A resend that finds the claim in progress asks the same
before it is acked (the first delivery may have died after its claim). Where the store
cannot confirm it, and before step 5, a failure answers 503, which Tencent treats as
"resend". When the store itself is down, `store_down`
decides: publish without dedup (flagged ``dedup: skipped``) or 503.

A second, *different* body under a key that is already claimed is a conflict: it is
acked (Tencent must stop resending), kept in the quarantine as ``dedup_conflict`` and
never overwrites the standing record.

This module is longer than the project's ~300 lines because the order of its steps is the
delivery guarantee: each step and the failure answers it may give are read together, top
to bottom, in one file.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from datetime import tzinfo
from typing import Any, NamedTuple

from . import logline
from .auth import Authenticator
from .build import MessageBuilder, Unencodable, decode, digest, stored_callback
from .episodes import DEFAULT_EPISODE_TTL, DEFAULT_FLAP_THRESHOLD, DEFAULT_FLAP_WINDOW, EpisodeMark, EpisodeTracker
from .errors import StoreError
from .http import Request, Response
from .identity import InvalidId, MissingId, dedup_key
from .identity_scheme import IdentityScheme
from .limits import MAX_DEPTH, too_deep
from .message import Message, with_dedup_skipped
from .outbox import PENDING, ClaimStatus, Store, swept
from .ports import Publisher, Quarantine, Quarantined
from .times import load_timezone

log = logging.getLogger("alarm_callback")


class Outcome(enum.Enum):
    PUBLISHED = "published"  # new alarm, on the queue
    OUTBOXED = "outboxed"  # new alarm, publish failed: pending in the outbox, the sweeper retries
    DUPLICATE = "duplicate"  # resend of a handed-off alarm
    IN_PROGRESS = "in_progress"  # resend while the first delivery is still being handed off
    CONFLICT = "conflict"  # another body under a claimed key: acked, quarantined, nothing overwritten
    UNCHECKED = "published_unchecked"  # store down, published without dedup
    UNAVAILABLE = "unavailable"  # nothing durable happened: 503, Tencent resends
    REJECTED = "rejected"  # 4xx


class Result(NamedTuple):
    response: Response
    outcome: Outcome
    key: str | None = None
    reason: str | None = None
    fingerprint: str | None = None


class Arrival(NamedTuple):
    """A decoded callback on its way through steps 3-6, with its dedup key."""

    body: bytes
    decoded: dict[str, Any]
    key: str
    received_at: float
    fields: dict[str, Any] | None  # the normalized alarm as its dump; None: forwarded as unknown
    source: str
    quarantine: bool  # refused bodies are kept (not when `replay` calls)


_ALLOW = {"allow": "POST"}
# `Outcome.value` per member: an enum member's `.value` is a Python-level descriptor call.
_OUTCOME_TEXT = {outcome: outcome.value for outcome in Outcome}


class Receiver:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        quarantine: Quarantine,
        auth: Authenticator | None = None,
        *,
        tz: tzinfo | None = None,
        max_body_bytes: int = 262144,
        store_down: str = "publish",
        event_source: str = "alarm-callback",
        record_occurrences: bool = False,
        episode_ttl_seconds: float = DEFAULT_EPISODE_TTL,
        flap_threshold: int = DEFAULT_FLAP_THRESHOLD,
        flap_window_seconds: float = DEFAULT_FLAP_WINDOW,
        identity: IdentityScheme | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.quarantine = quarantine
        self.auth = auth or Authenticator()
        self.tz = tz or load_timezone("Asia/Shanghai")
        self.max_body_bytes = max_body_bytes
        self.store_down = store_down
        self.event_source = event_source
        self.record_occurrences = record_occurrences
        # Episodes are forgotten after this long without a notification; 0 turns them off.
        self.episodes = (
            EpisodeTracker(episode_ttl_seconds, flap_threshold, flap_window_seconds)
            if episode_ttl_seconds > 0
            else None
        )
        self.builder = MessageBuilder(self.tz, event_source, identity)
        # The smallest message size every configured publisher takes (None: no limit).
        self.max_message_bytes: int | None = getattr(publisher, "max_message_bytes", None)

    # -- entry ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        result = self._handle(request)
        outcome = _OUTCOME_TEXT[result.outcome]
        logline.info(
            log,
            f"callback {outcome}",
            {
                "outcome": outcome,
                "status_code": result.response.status,
                "reason": result.reason,
                "dedup_key": result.key,
                "fingerprint": result.fingerprint,
                "source": request.source,
                "source_ip": request.source_ip,  # who tried, on a 401 (never what was sent)
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
        return result.response

    def _handle(self, request: Request) -> Result:
        if request.method.upper() != "POST":
            return _reject(405, "method_not_allowed", "only POST is accepted", _ALLOW)
        if not self.auth.check(request):
            return _reject(
                401, "unauthorized", "missing or wrong credential", {"www-authenticate": 'Basic realm="alarm-callback"'}
            )
        if len(request.body) > self.max_body_bytes:
            detail = f"body is {len(request.body)} bytes; the limit is {self.max_body_bytes}"
            return self._refuse(
                413, "body_too_large", detail, request.body[: self.max_body_bytes], request.source, truncated=True
            )
        return self.accept(request.body, source=request.source)

    def accept(self, body: bytes, *, source: str = "unknown", quarantine: bool = True) -> Result:
        """Everything after authentication. `replay` calls this with ``quarantine=False``."""
        try:
            decoded = decode(body)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
            return self._refuse(400, "invalid_json", f"body is not JSON: {_short(exc)}", body, source, quarantine)
        if not isinstance(decoded, dict):
            detail = f"body is a JSON {type(decoded).__name__}, not an object"
            return self._refuse(400, "not_an_object", detail, body, source, quarantine)
        # Nesting depth cannot exceed the count of opening brackets: most bodies skip the walk.
        if body.count(b"{") + body.count(b"[") > MAX_DEPTH and too_deep(decoded):
            detail = f"JSON nests deeper than {MAX_DEPTH} levels"
            return self._refuse(400, "too_deep", detail, body, source, quarantine)
        try:
            key = dedup_key(decoded)
        except (MissingId, InvalidId) as exc:
            code = "missing_id" if isinstance(exc, MissingId) else "invalid_id"
            return self._refuse(400, code, str(exc), body, source, quarantine)
        received_at = round(time.time(), 6)
        fields = self.builder.fields(decoded, key, received_at)  # the Alarm as its dump; build encodes it
        arrival = Arrival(body, decoded, key, received_at, fields, source, quarantine)
        try:
            # One commit for the episode step, claim, publish and mark where the store and the
            # publisher share a database (SQLite in one file); elsewhere each writes alone.
            with self.store.together(self.publisher):
                return self._deliver(arrival)
        except StoreError:  # the shared write did not begin or commit: nothing of it is durable
            log.exception("store transaction failed", extra={"dedup_key": key})
            prepared = self._prepare(arrival, None)  # no episode: its step was not kept either
            return prepared if isinstance(prepared, Result) else self._store_down(key, *prepared)

    # -- steps -----------------------------------------------------------------------------

    def _deliver(self, arrival: Arrival) -> Result:
        """Steps 4-6 of the module doc: the episode, the message, the claim and the hand-off."""
        body, decoded, key, received_at, fields, source, _ = arrival
        episode: EpisodeMark | None = None
        episode_failed = False
        if self.episodes is not None and fields is not None and fields["status"] in ("firing", "resolved"):
            first_time = fields["first_occur_time"]
            first = first_time.timestamp() if first_time else None
            try:
                episode = self.episodes.step(
                    self.store, fields["fingerprint"], key, fields["status"], received_at, first
                )
            except NotImplementedError:  # a store that keeps no episodes
                pass
            except Exception:
                log.exception("episode update failed", extra={"dedup_key": key})
                episode_failed = True
        prepared = self._prepare(arrival, episode)
        if isinstance(prepared, Result):
            return prepared
        message, ack = prepared
        if episode_failed:  # the store is in trouble: nothing durable yet
            return self._store_down(key, message, ack)
        stored = stored_callback(body, decoded, received_at, source, episode)
        return self._hand_off(key, message, stored, digest(body), ack, body, source)

    def _prepare(self, arrival: Arrival, episode: EpisodeMark | None) -> tuple[Message, Response] | Result:
        """The message and its ack, or the refusal of a body no queue could take."""
        body, decoded, key, received_at, fields, source, quarantine = arrival
        try:
            message = self.builder.build(decoded, key, received_at, episode, fields)
        except Unencodable as exc:
            return self._refuse(400, "unencodable", str(exc), body, source, quarantine)
        size = len(message.body.encode("utf-8", "surrogatepass"))
        if self.max_message_bytes is not None and size > self.max_message_bytes:
            detail = f"the message would be {size} bytes; the queue takes at most {self.max_message_bytes}"
            return self._refuse(413, "message_too_large", detail, body, source, quarantine)
        return message, Response.json(200, {"sessionId": decoded.get("sessionId", key), "retCode": 0})

    def _hand_off(
        self, key: str, message: Message, stored: str, body_digest: str, ack: Response, body: bytes, source: str
    ) -> Result:
        fp = message.fingerprint
        marker = message.occurrence if self.record_occurrences else None
        try:
            claim = self.store.claim(key, stored, digest=body_digest, marker=marker)
        except Exception:
            log.exception("store claim failed", extra={"dedup_key": key})
            return self._store_down(key, message, ack)
        if claim.status is ClaimStatus.CONFLICT:
            detail = f"dedup key {key!r} already holds another body; the first one stands"
            log.warning("dedup conflict: second body quarantined", extra={"dedup_key": key, "reason": "dedup_conflict"})
            self.quarantine_body(body, "dedup_conflict", detail, source)
            if claim.record.status == PENDING and not self._swept(key):  # the first body is owed
                return _unavailable(key, fp)
            return Result(ack, Outcome.CONFLICT, key, "dedup_conflict", fp)
        if claim.status is ClaimStatus.PUBLISHED:
            return Result(ack, Outcome.DUPLICATE, key, fingerprint=fp)
        if claim.status is ClaimStatus.IN_PROGRESS:
            # The delivery holding the claim may have died after it: before this resend is
            # acked, the sweeper must be able to find the claim.
            return Result(ack, Outcome.IN_PROGRESS, key, fingerprint=fp) if self._swept(key) else _unavailable(key, fp)
        if claim.record.message != stored:  # took over a stale claim: the original alarm goes out
            message = self.builder.rebuild(claim.record.message, key)
        try:
            self.publisher.publish(message)
        except Exception:
            log.exception("publish failed; left pending in the outbox", extra={"dedup_key": key})
            return Result(ack, Outcome.OUTBOXED, key, fingerprint=fp) if self._swept(key) else _unavailable(key, fp)
        try:
            self.store.mark_published(key)
        except Exception:  # published but not marked: the sweeper may repeat it (same id)
            log.exception("mark_published failed", extra={"dedup_key": key})
        return Result(ack, Outcome.PUBLISHED, key, fingerprint=fp)

    def _swept(self, key: str) -> bool:
        return swept(self.store, key, "could not hand the claim to the sweeper")

    def _store_down(self, key: str, message: Message, ack: Response) -> Result:
        fp = message.fingerprint
        if self.store_down == "publish":
            if self.record_occurrences:  # best effort: the store is in trouble
                remember_occurrence(self.store, message)
            try:
                self.publisher.publish(with_dedup_skipped(message))
                return Result(ack, Outcome.UNCHECKED, key, fingerprint=fp)
            except Exception:
                log.exception("publish failed with the store down", extra={"dedup_key": key})
        return _unavailable(key, fp)

    def _refuse(
        self,
        status: int,
        code: str,
        detail: str,
        body: bytes,
        source: str,
        quarantine: bool = True,
        truncated: bool = False,
    ) -> Result:
        if quarantine:
            self.quarantine_body(body, code, detail, source, truncated)
        return _reject(status, code, detail)

    def quarantine_body(self, body: bytes, reason: str, detail: str, source: str, truncated: bool = False) -> None:
        """Put a refused body (or a whole unreadable platform event) in the quarantine.
        Content-addressed: Tencent resends a refused body 3 more times; it is kept once."""
        item_id = hashlib.sha256(body).hexdigest()[:32]
        item = Quarantined(item_id, time.time(), reason, detail, body, source, truncated)
        try:
            self.quarantine.put(item)
        except Exception:  # last resort: the log keeps it
            log.exception("quarantine failed: %s", body[:4096].decode("utf-8", "replace"), extra={"reason": reason})


def remember_occurrence(store: Store, message: Message) -> None:
    """Tell the history reconciler an occurrence published without a claim (the store was
    down) is delivered: one conditional write, pointing at the dedup key. Best effort: a
    miss only means the reconciler may publish it again, flagged ``recovered``."""
    if message.occurrence is None:
        return
    try:
        store.remember(message.occurrence, message.id)
    except Exception:
        log.exception("occurrence marker failed", extra={"dedup_key": message.id})


def _unavailable(key: str, fingerprint: str | None) -> Result:
    """Nothing durable that the sweeper will find: 503, Tencent resends."""
    response = Response.error(503, "unavailable", "alarm could not be stored or published; resend later")
    return Result(response, Outcome.UNAVAILABLE, key, "backend_unavailable", fingerprint)


def _reject(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Result:
    return Result(Response.error(status, code, detail, headers), Outcome.REJECTED, reason=code)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."
