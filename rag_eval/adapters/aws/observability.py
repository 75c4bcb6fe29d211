"""Logging for the Lambda handlers: the lines of the code a function runs, as Powertools JSON.

The modules log through stdlib `logging` (so that the CLI and the tests need no Powertools);
here the loggers of the packages a function runs get the handler's Powertools handler and
level, and every record inside a job carries its `job_id` (`rag_eval.domain.log_context`).
The template's Globals set the service name and level (POWERTOOLS_SERVICE_NAME,
POWERTOOLS_LOG_LEVEL).
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger

from rag_eval.domain.log_context import JobContextFilter

# What runs inside a function. Not `rag_eval` as a whole (Powertools'
# copy_config_to_registered_loggers takes top-level loggers only): the local stack runs the
# handlers in its own process, and its own lines (rag_eval.local) stay plain text.
FUNCTION_PACKAGES = (
    "rag_eval.domain",
    "rag_eval.metrics",
    "rag_eval.judges",
    "rag_eval.scoring",
    "rag_eval.advice",
    "rag_eval.app",
    "rag_eval.adapters",
)
# Libraries that log request and response bodies (prompts, sample texts) at DEBUG: kept at
# WARNING whatever the level, so no payload reaches the logs.
PAYLOAD_LOGGERS = ("openai", "httpx", "httpcore", "instructor", "botocore", "urllib3")


def handler_logger() -> Logger:
    """The handler's Powertools logger, with the loggers of FUNCTION_PACKAGES joined to it."""
    logger = Logger()
    logger.append_keys(name="%(name)s")  # which module wrote the line
    for handler in logger.handlers:
        # A warm environment's second Logger() shares the first one's handler.
        if not any(isinstance(f, JobContextFilter) for f in handler.filters):
            handler.addFilter(JobContextFilter())
    for name in FUNCTION_PACKAGES:
        package = logging.getLogger(name)
        package.handlers = list(logger.handlers)
        package.setLevel(logger.log_level)
        package.propagate = False  # the runtime's root handler would print each line again
    for name in PAYLOAD_LOGGERS:
        library = logging.getLogger(name)
        library.setLevel(max(library.getEffectiveLevel(), logging.WARNING))
    return logger
