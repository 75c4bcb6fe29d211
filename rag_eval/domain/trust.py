"""How far to trust the judge, as the service records and answers it: the label queue's
file and its draws, and the figures that set people's labels against the judge's scores.

The label queue (GET /score-jobs/{job_id}/label-queue) draws samples for people to label
with known probabilities q_i, so that a few labels correct the judge's mean without bias
(`rag_eval.scoring.judge_trust`). The q_i are recorded once, when the run folder is
written: `label-queue.json`, one list per metric, never 0 for a sample the judge scored.
The draws are a fixed sequence per (run, metric), with replacement, from a generator
seeded by both (`draws`): the API hands out its next unlabelled samples and the worker
finds which draws the labels answer, each from the same file and the same seed, so
nothing about a draw has to be stored when it is handed out.

Which labels correct the mean (`labelled_draws`): the draws from the first on, up to the
first one whose sample nobody has labelled, and no further than the first draw of the last
new sample among them (past it, the sequence only repeats labelled samples). Labels on
samples the queue has not drawn yet (a file of labels chosen by hand) are compared with the
judge (agreement, largest gaps) but not used for the correction: they were not drawn with a
known probability.

Light (the API's cold start): pydantic and the standard library only.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from collections.abc import Container, Iterator, Mapping, Sequence
from itertools import accumulate
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from rag_eval.domain.results import Interval

LABEL_QUEUE_FILE = "label-queue.json"  # the queue's probabilities, per metric
LABEL_SAMPLES_FILE = "label-samples.jsonl"  # what a person reads to label a sample
TRUST_FILE = "judge-trust.json"  # the corrected figures, written when labels arrive
# The sequence walked to find a batch to label, at most: past it every sample is labelled
# with near certainty (q_i >= floor / m: about 2 m ln m draws cover m samples).
MAX_DRAWS = 5_000_000

Level = Literal["interval", "ordinal", "nominal"]
_FROZEN = ConfigDict(frozen=True, defer_build=True)
# What a person reads of a conversation sample (`rag_eval.domain.conversation_view`).
CONVERSATION_VIEW = (
    "a conversation sample's turns in order ({type, content, calls, results}), the calls "
    "made paired with the expected ones ({expected, actual, verdict}) and the reference "
    "topics, each text cut; null: a single-turn sample"
)


class Corrected(BaseModel):
    """The judge's mean corrected by labels, beside the judge's own.

    `corrected` is None with too few draws (`rag_eval.scoring.judge_trust.MIN_LABELS`):
    `sentence` says so. `bias` and `mean_abs_difference` are judge - human over the
    labelled draws, each weighted by 1/q_i so that they speak for the whole job, not for
    the uncertain samples drawn more often (the plain means for uniform draws); None
    without labels.
    """

    model_config = _FROZEN

    corrected: Interval | None  # PPI++: point estimate and 95% interval, n = labels
    judge: Interval  # the judge alone, classical 95% interval, n = scored samples
    labels: int  # draws labelled (a sample drawn twice counts twice)
    labelled_samples: int  # distinct samples among them
    bias: float | None
    mean_abs_difference: float | None
    sentence: str


class Agreement(BaseModel):
    """How closely the judge and people agree on the same samples.

    `alpha`: Krippendorff's, at the level given; `kappa`: Cohen's, only for nominal values
    (categories); each None where undefined (no pair to compare). Every pair equal on a
    single value is complete agreement: 1.0, where the libraries would divide 0 by 0.
    """

    model_config = _FROZEN

    level: Level
    pairs: int  # samples with both a judge's and a person's value
    mean_difference: float | None = None  # judge - human
    mean_abs_difference: float | None = None
    alpha: float | None = None
    kappa: float | None = None


class Gap(BaseModel):
    """A labelled sample where the judge and people differ: judge - human."""

    model_config = _FROZEN

    index: int
    judge: float
    human: float
    difference: float


class MetricTrust(Corrected):
    """A metric's judge against people: the job's `corrected[metric]`."""

    agreement: Agreement = Field(description="the judge against people on every labelled sample")
    labels_outside_queue: int = Field(
        default=0,
        description="labelled samples the label queue has not drawn: compared with the "
        "judge (agreement), not used for the correction",
    )


class GapShown(BaseModel):
    """Where the judge goes wrong: a labelled sample, both values and the judge's reasons."""

    model_config = _FROZEN

    sample_id: str
    judge: float
    human: float = Field(description="people's value (their mean, when several labelled it)")
    difference: float = Field(description="judge - human")
    question: str = ""
    answer: str = ""
    why: str | None = None
    evidence: JsonValue = None
    notes: list[str] = Field(default_factory=list, description="what the labelers wrote")


class TrustReport(BaseModel):
    """judge-trust.json: every labelled metric's figures and largest gaps."""

    model_config = _FROZEN

    job_id: str
    run_id: str
    computed_at: str
    labels: int = Field(description="labels stored on the job when this was computed")
    labels_as_of: str = Field(default="", description="when the newest of them was given")
    metrics: dict[str, MetricTrust]
    gaps: dict[str, list[GapShown]] = Field(default_factory=dict)


class JudgeView(BaseModel):
    """What the judge said of one sample on one metric, as a person reviews it."""

    model_config = _FROZEN

    score: float | None = Field(description="on the metric's own scale; null: not scored")
    category: str | None = None
    reason: str | None = Field(default=None, description="why it is not scored (a code)")
    why: str | None = None
    evidence: JsonValue = Field(default=None, description="the judge's claims and verdicts")


class LabelSample(BaseModel):
    """One line of label-samples.jsonl: a sample's texts and the judge's view per metric."""

    model_config = _FROZEN

    sample_id: str
    question: str
    answer: str = ""
    contexts: list[str] = Field(default_factory=list)
    ground_truth: str = ""
    conversation: dict[str, JsonValue] | None = Field(default=None, description=CONVERSATION_VIEW)
    metrics: dict[str, JudgeView] = Field(default_factory=dict)


class Disagreement(BaseModel):
    """A sample the jurors scored apart: each juror's value, and their spread."""

    model_config = _FROZEN

    sample_id: str
    scores: dict[str, float | None] = Field(description="juror -> its value")
    spread: float = Field(description="the standard deviation of the jurors' values")


class JuryAgreement(BaseModel):
    """How far a jury's jurors agree on one metric (the job's `jury[metric]`)."""

    model_config = _FROZEN

    jurors: list[str]
    level: Level
    alpha: float | None = Field(
        description="Krippendorff's alpha across the jurors (1: they always agree); null "
        "when no sample has two jurors' values"
    )
    samples: int = Field(description="samples two jurors or more scored")
    disagreements: list[Disagreement] = Field(
        default_factory=list, description="the samples the jurors scored furthest apart"
    )


class QueueMetric(BaseModel):
    """One metric of label-queue.json, aligned with its `sample_ids`."""

    model_config = _FROZEN

    scores: list[float | None] = Field(description="the judge's, on the metric's scale")
    probabilities: list[float] = Field(description="q_i: 0 where the judge did not score")
    leaning: str = Field(description="where the draws lean, in words")


class QueueFile(BaseModel):
    """label-queue.json: the run's samples, where each one's line starts in
    label-samples.jsonl (`offsets`, one more than the samples: the file's end), and per
    metric the judge's scores and the probabilities the queue draws with."""

    model_config = _FROZEN

    run_id: str
    sample_ids: list[str]
    offsets: list[int]
    metrics: dict[str, QueueMetric]

    def seed(self, metric: str) -> int:
        return queue_seed(self.run_id, metric)

    def line(self, index: int) -> tuple[int, int]:
        """Where sample `index`'s line of label-samples.jsonl is: first byte and length."""
        return self.offsets[index], self.offsets[index + 1] - self.offsets[index]


def queue_seed(run_id: str, metric: str) -> int:
    """The draws' seed: fixed per (run, metric), different between them."""
    digest = hashlib.sha256(f"{run_id}\n{metric}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def draws(probabilities: Sequence[float], seed: int) -> Iterator[int]:
    """The endless sequence of draws, with replacement, of index i with probability
    q_i / sum(q): the same for the same arguments. Nothing when every q_i is 0."""
    cumulative = list(accumulate(probabilities))
    total = cumulative[-1] if cumulative else 0.0
    if total <= 0:
        return
    generator = random.Random(seed)
    last = len(cumulative) - 1
    while True:
        # random() < 1, so the point is below the total; a zero-width entry is never hit.
        yield min(bisect_right(cumulative, generator.random() * total), last)


class QueuedDraw(BaseModel):
    """A sample the queue hands out: its index and the draws (1-based) that picked it."""

    model_config = _FROZEN

    index: int
    positions: list[int]


def next_to_label(
    queue: QueueFile, metric: str, labelled: Container[str], n: int
) -> tuple[list[QueuedDraw], int]:
    """The next `n` distinct samples of the metric's draws that nobody has labelled, in the
    order drawn, and how many draws before the first of them are answered by labels."""
    probabilities = queue.metrics[metric].probabilities
    scored = sum(q > 0 for q in probabilities)
    picked: dict[int, list[int]] = {}
    answered, seen_labelled = 0, set()
    for position, index in enumerate(draws(probabilities, queue.seed(metric)), start=1):
        if len(picked) >= n or position > MAX_DRAWS:
            break
        sample = queue.sample_ids[index]
        if sample in labelled:
            seen_labelled.add(index)
            if not picked:
                answered = position
            if len(seen_labelled) + len(picked) >= scored and not picked:
                break  # every sample the judge scored is labelled
            continue
        picked.setdefault(index, []).append(position)
        if len(seen_labelled) + len(picked) >= scored:
            break  # nothing left to draw that is not labelled or picked
    return [QueuedDraw(index=i, positions=p) for i, p in picked.items()], answered


def labelled_draws(
    queue: QueueFile, metric: str, human: Mapping[str, float]
) -> tuple[list[tuple[int, float, float]], int]:
    """The draws that correct the metric's mean, as (index, human value, q_i) in the order
    drawn (the module's rule), and how many labelled samples are not among them."""
    probabilities = queue.metrics[metric].probabilities
    scored = {i for i, q in enumerate(probabilities) if q > 0}
    labelled = {i for i in scored if queue.sample_ids[i] in human}
    used: list[tuple[int, float, float]] = []
    end, seen = 0, set()
    if labelled:
        for position, index in enumerate(draws(probabilities, queue.seed(metric)), start=1):
            if index not in labelled or position > MAX_DRAWS:
                break
            value = human[queue.sample_ids[index]]
            used.append((index, value, probabilities[index]))
            if index not in seen:
                seen.add(index)
                end = position
                if len(seen) == len(labelled):
                    break  # past here the sequence only repeats labelled samples
    outside = sum(1 for sample in human if sample not in {queue.sample_ids[i] for i in seen})
    return used[:end], outside
