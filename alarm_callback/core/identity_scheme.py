"""Configurable alarm identity: which fields make the fingerprint, per namespace.

Today's rule (`identity.fingerprint`: policy + metric/event + best instance id, else the
identity dimensions) stays the default. ``IDENTITY_FIELDS`` (JSON) overrides it for the
namespaces it names::

    {"qce/lb_public": ["policy", "subject", "dimensions.vip", "dimensions.vport"]}

Fields: ``policy``, ``subject`` (``metric:<name>`` / ``event:<name>``, compared case- and
underscore-blind as by the default rule), ``object`` (the best instance id), ``namespace``,
``region`` and ``dimensions.<key>``. Every message carries the scheme's version
(``identityversion``): ``1`` for the default rule alone, ``1+<hash>`` when overrides are
configured, so consumers (and the episode store, which is keyed by fingerprint) can tell
fingerprints made under different schemes apart. The alarm-history reconciler matches on the
default rule; namespaces with an override are not reconciled against the history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic_core import to_json

from .errors import json_setting
from .identity import fingerprint as default_fingerprint

DEFAULT_VERSION = "1"
FIELDS = frozenset({"policy", "subject", "object", "namespace", "region"})
DIMENSION_PREFIX = "dimensions."


class InvalidScheme(ValueError):
    """IDENTITY_FIELDS is not a JSON object of namespace -> non-empty list of known fields."""


class IdentityScheme(NamedTuple):
    rules: Mapping[str, tuple[str, ...]] = MappingProxyType({})  # shared by every default: read-only

    @classmethod
    def from_json(cls, text: str | None) -> IdentityScheme:
        if not text or not text.strip():
            return cls()
        shape = "a JSON object: namespace -> list of fields"
        raw = json_setting(text, "IDENTITY_FIELDS", dict, shape, InvalidScheme)
        rules: dict[str, tuple[str, ...]] = {}
        for namespace, fields in raw.items():
            if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
                raise InvalidScheme(f"IDENTITY_FIELDS[{namespace!r}] must be a non-empty list of field names")
            for name in fields:
                if name not in FIELDS and not (name.startswith(DIMENSION_PREFIX) and len(name) > len(DIMENSION_PREFIX)):
                    known = ", ".join(sorted(FIELDS))
                    raise InvalidScheme(
                        f"IDENTITY_FIELDS[{namespace!r}]: unknown field {name!r} ({known}, dimensions.<key>)"
                    )
            rules[namespace] = tuple(fields)
        return cls(rules)

    @property
    def version(self) -> str:
        if not self.rules:
            return DEFAULT_VERSION
        canonical = json.dumps({k: list(v) for k, v in self.rules.items()}, sort_keys=True, separators=(",", ":"))
        return f"{DEFAULT_VERSION}+{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"

    def fingerprint(
        self,
        policy: str,
        subject: str,
        object_id: str | None,
        dimensions: dict[str, Any],
        namespace: str | None = None,
        region: str | None = None,
    ) -> str:
        rule = self.rules.get(namespace or "")
        if rule is None:
            return default_fingerprint(policy, subject, object_id, dimensions)
        known = {
            "policy": policy,
            "subject": subject.lower().replace("_", ""),
            "object": object_id,
            "namespace": namespace,
            "region": region,
        }
        values = [
            [name, known[name] if name in known else _text(dimensions.get(name[len(DIMENSION_PREFIX) :]))]
            for name in rule
        ]
        return hashlib.sha256(to_json(["custom", values])).hexdigest()[:32]


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value).strip()
