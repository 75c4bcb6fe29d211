"""A run scored by a jury of three, built by hand as the fan-in leaves it: each sample's
juror values beside the verdict, and per judged metric how far the jurors agree.

One juror's name is markup and another's holds a table separator and a formula's start,
so that every file shows them as text."""

from __future__ import annotations

from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import SampleResult, ScoreRun
from rag_eval.domain.trust import Disagreement, JuryAgreement
from rag_eval.scoring.run_folder import RunRecord

JURORS = ["gpt-4o-mini", "<b>evil</b>", "=claude|haiku"]
METRICS = ["faithfulness", "answer_relevancy", "exact_match"]  # the last one is model-free
# faithfulness: sample -> each juror's value (None: that juror did not score it)
FAITHFULNESS: dict[str, list[float | None]] = {
    "s1": [0.9, 0.8, 0.9],
    "s2": [0.1, 0.9, None],
    "s3": [0.5, 0.6, 0.4],
}


def jury_run(jurors: list[str] | None = None) -> tuple[ScoreRequest, ScoreRun, RunRecord]:
    """The run of three samples; `jurors=[]` gives the same run scored by one judge."""
    jurors = JURORS if jurors is None else jurors
    request = ScoreRequest.model_validate(
        {
            "samples": [
                {"sample_id": s, "question": f"q {s}", "answer": "a", "contexts": ["c"]}
                for s in FAITHFULNESS
            ],
            "metrics": METRICS,
        }
    )
    results = [
        SampleResult(
            sample_id=sample,
            scores={"faithfulness": 0.5, "answer_relevancy": 0.7, "exact_match": 1.0},
            jurors=(
                {
                    "faithfulness": dict(zip(jurors, values, strict=True)),
                    "answer_relevancy": {j: 0.7 if j == jurors[0] else None for j in jurors},
                }
                if jurors
                else {}
            ),
        )
        for sample, values in FAITHFULNESS.items()
    ]
    run = ScoreRun(metrics=METRICS, results=results, skipped={}, jurors=list(jurors))
    jury = (
        {
            "faithfulness": JuryAgreement(
                jurors=jurors,
                level="interval",
                alpha=0.8234,
                samples=3,
                disagreements=[
                    Disagreement(
                        sample_id="s2",
                        scores=dict(zip(jurors, FAITHFULNESS["s2"], strict=True)),
                        spread=0.4,
                    )
                ],
            ),
            # Only one juror scored it: nothing to agree on.
            "answer_relevancy": JuryAgreement(
                jurors=jurors, level="interval", alpha=None, samples=0
            ),
        }
        if jurors
        else {}
    )
    record = RunRecord("run-1", "job-1", "t0", "t1", "t2", 5, "gpt-4o-mini", "", jury=jury)
    return request, run, record
