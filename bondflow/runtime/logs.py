"""JSON logs with the request id bound; only ids and codes are logged, never personal data."""

from __future__ import annotations

import logging
import sys

import structlog

from bondflow.security.log_scrub import scrub_personal_data

_configured = False


def configure_logging(level: str = "INFO") -> None:
    global _configured  # noqa: PLW0603 - logging is process-wide by nature
    if _configured:
        return
    _configured = True
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter(shared))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "kafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def json_formatter(shared: list[structlog.types.Processor] | None = None) -> logging.Formatter:
    """The one renderer of log lines: JSON, with personal data scrubbed after exceptions are formatted."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared or [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            scrub_personal_data,
            structlog.processors.JSONRenderer(),
        ],
    )
