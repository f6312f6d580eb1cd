"""Errors the backends raise. The receiver maps them to its outcomes; nothing else leaks."""


class BackendError(Exception):
    """A store, publisher or quarantine call failed (network, throttling, timeout...)."""


class StoreError(BackendError):
    pass


class PublishError(BackendError):
    pass


class QuarantineError(BackendError):
    pass


class ConfigError(ValueError):
    """Settings that cannot work (unknown URL scheme, missing credential...)."""
