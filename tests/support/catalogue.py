"""GET /metrics' answer as a scripted API gives it."""

from __future__ import annotations

from typing import Any

from rag_eval.metrics.custom import (
    KINDS,
    MAX_CUSTOM_METRICS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_NAME_CHARS,
    PLACEHOLDERS,
)


def catalogue(listed: list[dict[str, Any]]) -> dict[str, Any]:
    """These metrics, with the rules for a job's own."""
    rules = {
        "kinds": list(KINDS),
        "placeholders": list(PLACEHOLDERS),
        "max_per_job": MAX_CUSTOM_METRICS,
        "max_name_chars": MAX_NAME_CHARS,
        "max_instructions_chars": MAX_INSTRUCTIONS_CHARS,
    }
    return {"metrics": listed, "define_your_own": rules}
