"""The receiver's one line per callback, written without a `logging.LogRecord` when it can be.

`Logger.info(..., extra=...)` builds a LogRecord (about twenty attributes, a walk up the
stack for the caller), then runs filters, locks and handlers: for one JSON line that is most
of the line's cost. When the package logger writes straight to streams through formatters
that can format fields themselves (`FieldsFormatter`; `config.logs.JsonFormatter` is one),
with no filter and no propagation, `info` formats the line with that same formatter and
writes it the way `logging.StreamHandler.emit` does (one write, then a flush, under the
handler's lock): the same text. Anything else (other handlers, filters, a level that drops
the line) goes through `Logger.info` as before. Public `logging` API only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Protocol, TextIO


class FieldsFormatter(Protocol):
    def format_fields(
        self, created: float, levelname: str, name: str, message: str, fields: Mapping[str, object]
    ) -> str: ...


def info(logger: logging.Logger, message: str, fields: Mapping[str, object]) -> None:
    """``logger.info(message, extra=fields)``, written directly when the handlers allow it."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handlers = _direct(logger)
    if handlers is None:
        logger.info("%s", message, extra=dict(fields))
        return
    created = time.time()
    for handler in handlers:
        formatter: FieldsFormatter = handler.formatter  # type: ignore[assignment]
        try:
            text = formatter.format_fields(created, "INFO", logger.name, message, fields) + handler.terminator
            handler.acquire()
            try:
                handler.stream.write(text)
                if hasattr(handler.stream, "flush"):
                    handler.stream.flush()
            finally:
                handler.release()
        except Exception:  # as StreamHandler.emit: the handler reports it, the callback goes on
            handler.handleError(logger.makeRecord(logger.name, logging.INFO, "", 0, message, (), None))


def _direct(logger: logging.Logger) -> list[logging.StreamHandler[TextIO]] | None:
    """The logger's handlers when every one of them can take the direct write, else None."""
    if logger.propagate or logger.filters or not logger.handlers:
        return None
    handlers: list[logging.StreamHandler[TextIO]] = []
    for handler in logger.handlers:
        if (
            type(handler) is not logging.StreamHandler
            or handler.filters
            or handler.level > logging.INFO
            or not callable(getattr(handler.formatter, "format_fields", None))  # a FieldsFormatter
        ):
            return None
        handlers.append(handler)
    return handlers
