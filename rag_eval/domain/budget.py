"""A job's judge budget: its limits (the request's, else the deployment's), what it has
spent, and the running count its shards share (the job item on AWS, memory in one
process).

Light: the API reads the limits for a dry run's estimate.
"""

from __future__ import annotations

import threading
from typing import Protocol

from pydantic import BaseModel

from rag_eval.domain.request import ScoreOptions
from rag_eval.domain.settings import Settings


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
