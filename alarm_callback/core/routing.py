"""Routing rules: which publishers a message goes to, decided on its routing attributes.

``ROUTES`` is a JSON list of rules; each rule is match conditions plus target URLs::

    [{"name": "quiet-repeats", "match": {"status": "firing", "sequence": ">3"}, "to": "drop://"},
     {"name": "databases", "match": {"namespace": ["qce/cdb", "qce/redis"]}, "to": ["cmq://dba"]}]

* A condition names one routing attribute (`ATTRIBUTES`) and an accepted value, a list of
  alternatives, or, for ``sequence`` only, a comparison such as ``">3"``. Every condition of
  a rule must hold; a message without the attribute (an ``unknown`` alarm has no sequence,
  an event alarm no namespace) does not match it.
* **The first matching rule wins**, as in a firewall: order the specific rules first. A
  message no rule matches takes the default route (``QUEUE_URL``).
* ``drop://`` discards on purpose: the message counts as delivered (the outbox record is
  marked published) and a log line ``routed to drop://`` names the rule.

`Router` is a `Publisher`, so the receiver, the sweeper and the reconciler route the same
way without knowing it. A route with several targets publishes to all of them as `FanOut`
does: any failure fails the publish, the record stays pending and the sweeper retries the
whole route; a target that already took the message sees it again under the same id.
Routing is decided on the attributes alone, which the sweeper rebuilds identically, so a
retried message takes the same route (as long as ``ROUTES`` is unchanged).
"""

from __future__ import annotations

import json
import logging
import operator
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, PublishError, json_setting
from .message import Message
from .ports import FanOut, Publisher
from .targets import DROP_URL, parse_targets, shown_url

log = logging.getLogger("alarm_callback")

DEFAULT_ROUTE = "default"
# Attribute -> the values it can take (None: any text). `sequence` is a number.
ATTRIBUTES: dict[str, frozenset[str] | None] = {
    "status": frozenset({"firing", "resolved", "unknown"}),
    "kind": frozenset({"metric", "event", "unknown"}),
    "namespace": None,
    "region": None,
    "policy_id": None,
    "level": None,
    "sequence": None,
    "flapping": frozenset({"true", "false"}),
    "dedup": frozenset({"checked", "skipped"}),
    "recovered": frozenset({"true", "false"}),
}
# Message.attributes leaves out a flag that is not set; a rule may still ask for its value.
_UNSET_MEANS = {"flapping": "false", "recovered": "false", "dedup": "checked"}
_COMPARISON = re.compile(r"^\s*(>=|<=|==|=|>|<)?\s*(\d+)\s*$")
_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "==": operator.eq,
}
_RULE_KEYS = frozenset({"name", "match", "to"})


@dataclass(frozen=True, slots=True)
class Condition:
    """One attribute's test: one of `values`, or (``sequence``) `operator` against `bound`."""

    attribute: str
    values: frozenset[str] = frozenset()
    operator: str | None = None
    bound: int = 0

    def holds(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.operator is None:
            return value in self.values
        try:
            number = int(value)
        except ValueError:
            return False
        return _OPERATORS[self.operator](number, self.bound)


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A parsed rule: its name (for the logs), its conditions (all must hold) and targets."""

    name: str
    conditions: tuple[Condition, ...]
    targets: tuple[str, ...]

    @property
    def drops(self) -> bool:
        return self.targets == (DROP_URL,)


def parse_routes(text: str | None) -> tuple[RouteRule, ...]:
    """``ROUTES`` (a JSON list of rules, see the module doc) -> rules, or ConfigError saying
    which rule is wrong and why. Unset or blank: no rules (everything takes the default route)."""
    if not text or not text.strip():
        return ()
    raw = json_setting(text, "ROUTES", list, 'a JSON list of rules like {"match": {"status": "resolved"}, "to": "URL"}')
    rules = [_rule(index, item) for index, item in enumerate(raw, start=1)]
    names = [rule.name for rule in rules]
    for name in names:
        if name == DEFAULT_ROUTE or names.count(name) > 1:
            raise ConfigError(f"ROUTES: rule name {name!r} is reserved or used twice; names must be unique")
    return tuple(rules)


def _rule(index: int, item: Any) -> RouteRule:
    if not isinstance(item, dict):
        raise ConfigError(f"ROUTES rule {index} must be a JSON object with 'match' and 'to'")
    name = item.get("name", f"rule-{index}")
    where = f"ROUTES rule {index} ({name!r})"
    unknown = sorted(set(item) - _RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} (a rule has 'name', 'match' and 'to')")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"ROUTES rule {index}: 'name' must be a non-empty string")
    match = item.get("match")
    if not isinstance(match, dict) or not match:
        raise ConfigError(f"{where}: 'match' must be a non-empty object of attribute -> value(s)")
    if "to" not in item:
        raise ConfigError(f"{where}: 'to' (the target URLs) is missing")
    conditions = tuple(_condition(where, attribute, expected) for attribute, expected in match.items())
    return RouteRule(name, conditions, parse_targets(item["to"], where))


def _condition(where: str, attribute: str, expected: Any) -> Condition:
    if attribute not in ATTRIBUTES:
        raise ConfigError(f"{where}: unknown attribute {attribute!r} (known: {', '.join(ATTRIBUTES)})")
    where = f"{where}: match.{attribute}"
    if attribute == "sequence":
        return _sequence(where, expected)
    alternatives = expected if isinstance(expected, list) else [expected]
    if not alternatives or not all(isinstance(v, (str, bool)) for v in alternatives):
        raise ConfigError(f"{where} must be a string or a non-empty list of strings")
    values = frozenset(str(v).lower() if isinstance(v, bool) else v for v in alternatives)
    allowed = ATTRIBUTES[attribute]
    if allowed is not None and not values <= allowed:
        raise ConfigError(f"{where}: {sorted(values - allowed)} never occurs (values: {', '.join(sorted(allowed))})")
    return Condition(attribute, values)


def _sequence(where: str, expected: Any) -> Condition:
    if isinstance(expected, list) and expected and all(type(v) is int for v in expected):
        return Condition("sequence", frozenset(str(v) for v in expected))
    if type(expected) is int:
        return Condition("sequence", frozenset({str(expected)}))
    found = _COMPARISON.match(expected) if isinstance(expected, str) else None
    if found is None:
        raise ConfigError(f"{where} must be a number, a list of numbers or a comparison like '>3' (>, >=, <, <=, =)")
    return Condition("sequence", operator=found.group(1) or "=", bound=int(found.group(2)))


@dataclass(frozen=True, slots=True)
class Route:
    """A rule with the publisher its targets make (one, or a `FanOut` over several)."""

    rule: RouteRule
    publisher: Publisher
    shown: tuple[str, ...]  # the targets as logged: no credentials, no query


class _View:
    """The attributes a rule tests, read from the message once each. ``level`` is not a
    broker attribute (SQS takes 10 and the message already has up to 10), so it is read
    from the body, and only when a rule asks for it."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.seen: dict[str, str | None] = {}

    def get(self, attribute: str) -> str | None:
        if attribute not in self.seen:
            if attribute == "level":
                self.seen[attribute] = _level(self.message.body)
            else:
                self.seen[attribute] = self.message.attributes.get(attribute, _UNSET_MEANS.get(attribute))
        return self.seen[attribute]

    def matches(self, rule: RouteRule) -> bool:
        return all(condition.holds(self.get(condition.attribute)) for condition in rule.conditions)


class Router(Publisher):
    """Publish each message to the targets of the first rule it matches, else to the
    default route. `publishers` maps every target URL (rules' and default's) to its
    publisher, so a URL named by several routes is one connection."""

    def __init__(self, rules: Sequence[RouteRule], default: Sequence[str], publishers: Mapping[str, Publisher]) -> None:
        needed = {url for rule in rules for url in rule.targets} | set(default)
        missing = sorted(needed - set(publishers))
        if missing:
            raise ValueError(f"Router: no publisher for {missing}")
        self.routes = tuple(self._route(rule, publishers) for rule in rules)
        self.default = self._route(RouteRule(DEFAULT_ROUTE, (), tuple(default)), publishers)
        self.publishers = tuple({id(p): p for p in publishers.values()}.values())
        limits = [p.max_message_bytes for p in self.publishers if p.max_message_bytes is not None]
        # Checked before the claim: the smallest limit of any target a message may take.
        self.max_message_bytes = min(limits) if limits else None
        self.counts: Counter[str] = Counter()  # messages per route in this container
        self.dropped = 0
        self._lock = threading.Lock()

    @staticmethod
    def _route(rule: RouteRule, publishers: Mapping[str, Publisher]) -> Route:
        targets = [publishers[url] for url in rule.targets]
        publisher = targets[0] if len(targets) == 1 else FanOut(targets)
        return Route(rule, publisher, tuple(shown_url(url) for url in rule.targets))

    def route_for(self, message: Message) -> Route:
        view = _View(message)
        return next((route for route in self.routes if view.matches(route.rule)), self.default)

    def publish(self, message: Message) -> None:
        route = self.route_for(message)
        name = route.rule.name
        try:
            route.publisher.publish(message)
        except PublishError as exc:
            raise PublishError(f"route {name!r}: {exc}") from exc
        with self._lock:
            self.counts[name] += 1
            self.dropped += route.rule.drops
            dropped = self.dropped
        log.log(
            logging.DEBUG if route is self.default else logging.INFO,
            "routed to %s",
            ", ".join(route.shown),
            extra={
                "route": name,
                "routed_to": list(route.shown),
                "dropped": route.rule.drops,
                "dropped_total": dropped if route.rule.drops else None,
                "dedup_key": message.id,
            },
        )

    def close(self) -> None:
        for publisher in self.publishers:
            publisher.close()


def _level(body: str) -> str | None:
    try:
        data = json.loads(body).get("data")
        level = data.get("level") if isinstance(data, dict) else None
    except (ValueError, AttributeError):
        return None
    return level if isinstance(level, str) else None
