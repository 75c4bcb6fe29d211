"""People's labels of a run set against its judge: judge-trust.json (`TrustReport`).

Per labelled metric: the draws of the label queue that labels answer correct the judge's
mean (`rag_eval.domain.trust.labelled_draws`, `judge_trust.corrected_mean`); every labelled
sample the judge scored measures agreement (Krippendorff's alpha at the metric's level,
Cohen's kappa for categories); the largest gaps, with the judge's reasons and what the
labelers wrote, say where the judge goes wrong. Several labelers of one sample count as
their mean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from rag_eval.domain.labels import HumanLabel, LabelTarget
from rag_eval.domain.trust import (
    GapShown,
    LabelSample,
    Level,
    MetricTrust,
    QueueFile,
    TrustReport,
    labelled_draws,
)
from rag_eval.scoring.judge_trust import (
    agreement,
    corrected_mean,
    largest_gaps,
    measurement_level,
)

GAPS_SHOWN = 5  # per metric, in the report: enough to see a pattern in the judge's errors
_TEXT = 600  # characters of a gap's question and answer


def level_of(target: LabelTarget) -> Level:
    return measurement_level(target.scale, target.categories is not None)


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT else text[: _TEXT - 1] + "…"


def trust_report(
    job_id: str,
    queue: QueueFile,
    targets: Mapping[str, LabelTarget],
    labels: Sequence[HumanLabel],
    sample: Callable[[int], LabelSample],
    computed_at: str,
) -> TrustReport:
    """The report of every metric with labels. `sample(i)`: the i-th sample's line of
    label-samples.jsonl (read only for the gaps shown)."""
    by_metric: dict[str, dict[str, list[HumanLabel]]] = defaultdict(lambda: defaultdict(list))
    for label in labels:
        if label.metric in queue.metrics:
            by_metric[label.metric][label.sample_id].append(label)
    index = {sample_id: i for i, sample_id in enumerate(queue.sample_ids)}
    metrics: dict[str, MetricTrust] = {}
    gaps: dict[str, list[GapShown]] = {}
    for metric, given in sorted(by_metric.items()):
        target = targets.get(metric, LabelTarget())
        scores = queue.metrics[metric].scores
        if all(score is None for score in scores):
            continue  # the judge scored no sample: no mean to correct, no pair to compare
        human = {sid: sum(x.value for x in found) / len(found) for sid, found in given.items()}
        used, outside = labelled_draws(queue, metric, human)
        corrected = corrected_mean(scores, used, target.scale)
        compared = [
            (index[sid], value)
            for sid, value in human.items()
            if sid in index and scores[index[sid]] is not None
        ]
        agreed = agreement(
            [scores[i] for i, _ in compared], [value for _, value in compared], level_of(target)
        )
        sentence = corrected.sentence
        if outside:
            sentence += (
                f"; {outside} labelled sample(s) the label queue did not draw are compared "
                "with the judge but do not correct it"
            )
        metrics[metric] = MetricTrust(
            **corrected.model_dump(exclude={"sentence"}),
            sentence=sentence,
            agreement=agreed,
            labels_outside_queue=outside,
        )
        shown = []
        # Every labelled sample once, at q = 1: largest_gaps only orders them.
        for gap in largest_gaps(scores, [(i, v, 1.0) for i, v in compared], GAPS_SHOWN):
            line = sample(gap.index)
            view = line.metrics.get(metric)
            shown.append(
                GapShown(
                    sample_id=line.sample_id,
                    judge=gap.judge,
                    human=gap.human,
                    difference=gap.difference,
                    question=_cut(line.question),
                    answer=_cut(line.answer),
                    why=view.why if view is not None else None,
                    evidence=view.evidence if view is not None else None,
                    notes=[x.note for x in given[line.sample_id] if x.note],
                )
            )
        gaps[metric] = shown
    return TrustReport(
        job_id=job_id,
        run_id=queue.run_id,
        computed_at=computed_at,
        labels=len(labels),
        labels_as_of=max((label.labeled_at for label in labels), default=""),
        metrics=metrics,
        gaps=gaps,
    )
