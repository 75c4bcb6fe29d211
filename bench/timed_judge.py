"""The scripted judge, keeping when it served each call: what bench.efficiency reads to say
where a run's time goes (calls in flight over time, the gaps between them).

    python -m bench.timed_judge --latency 0.2 --max-concurrency 8 [--port P]

It answers exactly as `testkit/scripted_judge.py`; its GET /stats adds `spans`, each call's
(start, end) in epoch seconds (time.time(), the clock of the process being measured too).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from testkit.scripted_judge import JudgeStats, ScriptedJudge, main


@dataclass(frozen=True)
class TimedStats(JudgeStats):
    spans: list[tuple[float, float]] = field(default_factory=list)


class TimedJudge(ScriptedJudge):
    def __init__(self, latency_s: float = 0.0, max_concurrency: int | None = None) -> None:
        super().__init__(latency_s, max_concurrency)
        self._spans: list[tuple[float, float]] = []

    def _handle(self, handler: Any, endpoint: str, body: dict[str, Any]) -> None:
        started = time.time()
        try:
            super()._handle(handler, endpoint, body)
        finally:
            ended = time.time()
            with self._lock:
                self._spans.append((started, ended))

    def stats(self) -> TimedStats:
        base = super().stats()
        with self._lock:
            spans = list(self._spans)
        return TimedStats(**asdict(base), spans=spans)


if __name__ == "__main__":
    main(judge_type=TimedJudge)
