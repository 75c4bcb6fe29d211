"""The judge-verdict cache: its keys and its store.

A verdict is the judge's whole response to one request. Its key is the provider (and the
endpoint that answered), the full request (model, messages, response schema, temperature
and every other parameter) and the ragas version, so a cached answer is returned only to
the very request that produced it. ragas sends some prompts several times on purpose as
independent samples (AnswerRelevancy's three generations): those keys also carry the
occurrence within the metric call, so the second asking gets the second answer, not the
first one again.

Light: the API computes pair keys for a dry run's cached share.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

# The pinned ragas (requirements/constraints.txt; tests/test_pins.py holds them equal). A
# new ragas may render other prompts or read answers otherwise: its verdicts are cached anew.
RAGAS_VERSION = "0.4.3"


class VerdictStore(Protocol):
    """Where verdicts are kept for every worker (DynamoDB on AWS, a folder for the CLI)."""

    def get(self, key: str) -> bytes | None:
        """The stored value, or None."""

    def put(self, key: str, value: bytes) -> None: ...

    def present(self, keys: list[str]) -> set[str]:
        """Which of `keys` are stored (a dry run's cached share)."""


def _digest(kind: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"ragas": RAGAS_VERSION, **fields},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f"{kind}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def request_key(provider: str, request: Any, occurrence: int | None) -> str:
    """A judge or embedding request's key. `occurrence`: its rank among identical requests
    of one metric call (None for embeddings, which answer the same text the same way)."""
    return _digest("v1", {"provider": provider, "request": request, "occurrence": occurrence})


def pair_key(metric: str, models: tuple[str, str], inputs: dict[str, Any]) -> str:
    """A (sample, metric) pair whose every judge request is stored: what the metric reads
    of the sample, and the judge and embedding models that answered."""
    return _digest("p1", {"metric": metric, "models": list(models), "inputs": inputs})
