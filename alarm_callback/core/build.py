"""From input to message: the one place a `Message` is made.

The outbox stores the *input* of a message, not the message: the callback body as
received, when and where it arrived. The receiver builds the message from that input, and
the sweeper rebuilds it from the stored record with the same `MessageBuilder`, so the two
are the same message (same id, same bytes) as long as the timezone and event source are.
Storing the input keeps records about half the size (the CloudEvent carries the raw
payload besides the normalized alarm), and survives version skew both ways: a newer or
older version reads a body, never another version's message layout.

The reconciler's alarms have no callback body; it stores its built CloudEvent instead
(``kind: "event"``), which `Message.from_body` reads leniently. Records written before
this layout (a bare CloudEvent) are read the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticSerializationError, from_json, to_json

from .episodes import EpisodeMark
from .identity_scheme import IdentityScheme
from .message import DEFAULT_SOURCE, Message, encode, encode_data
from .normalize import alarm_fields, unknown_alarm
from .times import load_timezone

if TYPE_CHECKING:  # imported where used: a known callback's message is written without them
    from .models.alarm import Episode

log = logging.getLogger("alarm_callback")


class Unencodable(ValueError):
    """Not even the raw body can be put in a message (e.g. a lone UTF-16 surrogate)."""


def decode(body: bytes) -> Any:
    """The body as `json.loads` reads it. `pydantic_core.from_json` reads the common case
    (UTF-8 JSON) faster and, where it reads a body at all, to the same values; what it
    refuses (UTF-16/32 or a BOM, lone surrogate escapes, nesting past its limit, bad JSON)
    goes to `json.loads`, which decides, with its own error text."""
    try:
        # Keys only: values (every callback's new sessionId) would fill pydantic_core's string
        # cache for nothing, about 1 MiB of a warm container's memory (make bench, memory).
        return from_json(body, cache_strings="keys")
    except ValueError:
        return json.loads(body)


def digest(body: bytes) -> str:
    """What tells a resend (same bytes) from another body under the same dedup key."""
    return hashlib.sha256(body).hexdigest()[:32]


def stored_callback(
    body: bytes, decoded: dict[str, Any], received_at: float, source: str, episode: EpisodeMark | None = None
) -> str:
    """The outbox record of a callback: its body (as text), arrival time and source, and
    the episode mark computed once before the claim (so the sweeper never counts again)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:  # JSON in UTF-16/32 (json.loads accepts it): keep it as JSON text
        text = to_json(decoded).decode()
    record: dict[str, Any] = {"kind": "callback", "body": text, "received_at": received_at, "source": source}
    if episode is not None:
        record["episode"] = episode.to_dict()
    return to_json(record).decode()


def stored_event(message: Message) -> str:
    """The outbox record of a message that has no callback behind it (the reconciler's)."""
    return to_json({"kind": "event", "event": message.body}).decode()


class MessageBuilder:
    def __init__(
        self, tz: tzinfo | None = None, event_source: str = DEFAULT_SOURCE, identity: IdentityScheme | None = None
    ) -> None:
        self.tz = tz or load_timezone("Asia/Shanghai")
        self.event_source = event_source
        self.identity = identity or IdentityScheme()

    def fields(self, decoded: dict[str, Any], key: str, received_at: float) -> dict[str, Any] | None:
        """The normalized alarm as its dump (`normalize.alarm_fields`): `build` adds the
        episode and serializes it. None when the body is not a readable callback or
        normalizing it fails (`build` then forwards it as ``unknown``)."""
        try:
            return alarm_fields(decoded, key, self.tz, datetime.fromtimestamp(received_at, timezone.utc), self.identity)
        except Exception:
            return None

    def build(
        self,
        decoded: dict[str, Any],
        key: str,
        received_at: float,
        episode: EpisodeMark | None = None,
        fields: dict[str, Any] | None = None,
    ) -> Message:
        """The message for a decoded callback (`fields`: its `fields`, when the caller has
        them). Anything that fails while normalizing or encoding forwards the alarm as
        ``unknown`` with its raw body; `Unencodable` when even that cannot be serialized (the
        receiver then quarantines the body)."""
        when = datetime.fromtimestamp(received_at, timezone.utc)
        try:
            if fields is None:
                fields = alarm_fields(decoded, key, self.tz, when, self.identity)
            if fields is None:
                return encode(unknown_alarm(decoded, key, when), self.event_source)
            if episode is not None and fields["status"] != "unknown":
                fields = {**fields, "episode": _episode_fields(episode)}
            try:
                return encode_data(fields, self.event_source)
            except PydanticSerializationError:  # text inference cannot write: as the model writes it
                from .models.alarm import Alarm

                return encode(Alarm.model_validate(fields), self.event_source)
        except Exception:  # a normalizer bug or an unserializable value must not lose the alarm
            log.exception("building the message failed; forwarding as unknown", extra={"dedup_key": key})
        try:
            return encode(unknown_alarm(decoded, key, when), self.event_source)
        except Exception as exc:
            raise Unencodable(f"the body cannot be encoded as a message: {type(exc).__name__}") from exc

    def rebuild(self, stored: str, key: str) -> Message:
        """The message of an outbox record (see the module doc for the record kinds)."""
        record = from_json(stored)
        if isinstance(record, dict) and record.get("kind") == "callback":
            decoded = json.loads(record["body"])
            mark = record.get("episode")
            episode = EpisodeMark.from_dict(mark) if isinstance(mark, dict) else None
            return self.build(decoded, key, float(record["received_at"]), episode)
        if isinstance(record, dict) and record.get("kind") == "event":
            return Message.from_body(record["event"])
        return Message.from_body(stored)  # a CloudEvent stored by an older version


def _episode_fields(mark: EpisodeMark) -> dict[str, Any]:
    """`Alarm.episode` as the dict its validation takes (see `episode_of`)."""
    return {
        "id": mark.id,
        "sequence": mark.sequence,
        "opened_at": datetime.fromtimestamp(mark.opened_at, timezone.utc),
        "state": "closed" if mark.state == "closed" else "open",
        "orphan": mark.orphan,
        "flapping": mark.flapping,
    }


def episode_of(mark: EpisodeMark) -> Episode:
    from .models.alarm import Episode

    return Episode.model_validate(_episode_fields(mark))
