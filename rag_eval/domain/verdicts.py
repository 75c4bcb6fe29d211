"""The judge-verdict cache and the job budget: their keys, modes and limits.

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
import threading
from typing import Any, Protocol

from pydantic import BaseModel

from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.settings import Settings

# The pinned ragas (pyproject, requirements/worker.txt); tests hold them equal. A new ragas
# may render other prompts or read answers otherwise: its verdicts are cached anew.
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


class BudgetLimits(BaseModel):
    """What a job may spend on its judge; no new judge call starts once either is reached."""

    max_cost_usd: float | None = None
    max_judge_calls: int | None = None

    @property
    def any(self) -> bool:
        return self.max_cost_usd is not None or self.max_judge_calls is not None


def budget_limits(options: ScoreOptions, settings: Settings) -> BudgetLimits:
    """The request's limits, else the deployment's defaults (0 there: none)."""
    return BudgetLimits(
        max_cost_usd=options.max_cost_usd or settings.default_max_cost_usd or None,
        max_judge_calls=options.max_judge_calls or settings.default_max_judge_calls or None,
    )


class Budget(BudgetLimits):
    """A job's limits and what it has spent against them (cache hits spend nothing)."""

    judge_calls: int = 0
    cost_usd: float = 0.0
    # A judge call was refused for the budget: some pairs are unscored, `budget_exhausted`.
    exhausted: bool = False


class JudgeBudget(Protocol):
    """A job's running budget, shared by its shards (the job item on AWS)."""

    def reserve(self) -> bool:
        """Count one judge call about to start; False (and nothing counted) when a limit is
        reached."""

    def spend(self, usd: float) -> None:
        """Add a finished call's dollars."""

    def used(self) -> tuple[int, float]:
        """Judge calls counted and dollars spent so far."""


class MemoryBudget:
    """A budget in this process: `rag-eval score`, where one process scores the whole job."""

    def __init__(self, limits: BudgetLimits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self._calls = 0
        self._usd = 0.0

    def reserve(self) -> bool:
        with self._lock:
            if not within(self._limits, self._calls, self._usd):
                return False
            self._calls += 1
            return True

    def spend(self, usd: float) -> None:
        with self._lock:
            self._usd += usd

    def used(self) -> tuple[int, float]:
        with self._lock:
            return self._calls, self._usd


def within(limits: BudgetLimits, calls: int, usd: float) -> bool:
    """Whether one more judge call may start after `calls` calls that cost `usd`."""
    return (limits.max_judge_calls is None or calls < limits.max_judge_calls) and (
        limits.max_cost_usd is None or usd < limits.max_cost_usd
    )
