"""Two runs of one evaluation set for the comparison's statistics: a baseline drawn
uniformly, and a candidate that is the baseline shifted, with noise, clipped to 0..1."""

from __future__ import annotations

import numpy as np

from rag_eval.domain.comparison import RunScores


def paired_runs(
    seed: int,
    n: int,
    metrics: list[str],
    shift: float = 0.0,
    spread: tuple[float, float] = (0.2, 0.8),
    noise: float = 0.1,
) -> tuple[RunScores, RunScores]:
    rng = np.random.default_rng(seed)
    base = {f"s{i}": {m: float(rng.uniform(*spread)) for m in metrics} for i in range(n)}
    cand = {
        key: {m: float(np.clip(v + shift + rng.normal(0, noise), 0, 1)) for m, v in row.items()}
        for key, row in base.items()
    }
    return (
        RunScores(job_id="a", run_id="run-a", metrics=metrics, scores=base),
        RunScores(job_id="b", run_id="run-b", metrics=metrics, scores=cand),
    )
