"""The run folder's two files for people who label it (rag_eval/domain/trust.py):

- `label-samples.jsonl`: one line a sample, its texts (a conversation's turns and tool
  calls beside the expected ones too) and what the judge said of it on each metric: what
  a person reads before giving a value. The API reads one line by its byte range, so a
  run of 100,000 samples is never read whole to show one.
- `label-queue.json`: the run's sample ids, where each one's line starts, and per metric
  the judge's scores and the probability q_i the label queue draws each sample with.

The queue draws uniformly: every sample the judge scored alike, q_i = 1/m, never 0, so the
corrected mean stays unbiased. Leaning towards samples the judge scored near the middle of
the scale, or where jurors disagree, spent more labels for the same interval in every
model measured (BENCHMARKS.md, section 13); q is recorded per metric all the same, so a
signal that does pay (a judge's own unsureness) can lean the draws.
"""

from __future__ import annotations

import json

from rag_eval.domain.conversation_view import conversation_view
from rag_eval.domain.evidence import why
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import ScoreRun
from rag_eval.domain.trust import (
    LABEL_QUEUE_FILE,
    LABEL_SAMPLES_FILE,
    JudgeView,
    LabelSample,
    QueueFile,
    QueueMetric,
)
from rag_eval.scoring.judge_trust import sampling_probabilities

LABEL_FILES = {
    LABEL_SAMPLES_FILE: "application/x-ndjson; charset=utf-8",
    LABEL_QUEUE_FILE: "application/json",
}
# A person reads a sample on one screen: longer texts are cut (scores.csv has them whole).
MAX_TEXT = 8_000
MAX_CONTEXTS = 20
LEANING = (
    "none: every sample the judge scored is drawn alike (leaning towards uncertain ones "
    "spent more labels for the same interval where it was measured)"
)


def _cut(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def label_files(run_id: str, request: ScoreRequest, run: ScoreRun) -> dict[str, bytes]:
    """File name -> body, in the order of LABEL_FILES."""
    lines: list[bytes] = []
    offsets = [0]
    for sample, result in zip(request.samples, run.results, strict=True):
        views = {
            metric: JudgeView(
                score=value,
                category=result.categories.get(metric),
                reason=result.reasons.get(metric),
                why=why(metric, result.evidence.get(metric), run.normalised(metric, value)) or None,
                evidence=result.evidence.get(metric),
            )
            for metric, value in result.scores.items()
        }
        line = LabelSample(
            sample_id=result.sample_id,
            question=_cut(sample.question),
            answer=_cut(sample.answer),
            contexts=[_cut(c) for c in (sample.contexts or [])[:MAX_CONTEXTS]],
            ground_truth=_cut(sample.ground_truth),
            conversation=conversation_view(sample),  # bounded on its own
            metrics=views,
        )
        body = (line.model_dump_json() + "\n").encode("utf-8")
        lines.append(body)
        offsets.append(offsets[-1] + len(body))
    metrics = {}
    for metric in run.metrics:
        scores = [result.scores.get(metric) for result in run.results]
        q = sampling_probabilities(scores)
        metrics[metric] = QueueMetric(
            scores=scores,
            # Nine significant digits: the file stays small, the draws stay the same.
            probabilities=[float(f"{p:.9g}") for p in q.tolist()],
            leaning=LEANING,
        )
    queue = QueueFile(
        run_id=run_id,
        sample_ids=[result.sample_id for result in run.results],
        offsets=offsets,
        metrics=metrics,
    )
    return {
        LABEL_SAMPLES_FILE: b"".join(lines),
        LABEL_QUEUE_FILE: json.dumps(queue.model_dump(mode="json")).encode("utf-8"),
    }
