"""Scoring: every (sample, metric) pair as one bounded, timed, failure-isolated call.

All pairs run concurrently under one semaphore of RAGAS_MAX_CONCURRENCY judge-backed
calls, so the judge sees a steady number of requests in flight whatever the mix of
samples and metrics. A failing call yields `None` and a reason code; it never fails
the job and never turns a mean into NaN. Every judge request passes the scoring's gate
(`rag_eval.judges.gate`): once it reports the budget spent, no further pair is started.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rag_eval.domain.evidence import arguments_evidence, evidence_for, reason_evidence
from rag_eval.domain.job import Progress
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import ReasonCode, SampleResult, ScoreRun, sample_ids
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from rag_eval.domain.verdicts import pair_key
from rag_eval.judges.factory import JudgeModels, build_judge, default_gate
from rag_eval.judges.failures import failure_reason
from rag_eval.judges.gate import BudgetExhausted, JudgeGate, metric_call
from rag_eval.metrics.messages import ragas_arguments
from rag_eval.metrics.spec import MetricSpec, Reading
from rag_eval.scoring.jury import jury_verdict

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]


class Scorer:
    def __init__(
        self,
        settings: Settings,
        judge_factory: Callable[..., JudgeModels] = build_judge,
    ) -> None:
        self._settings = settings
        self._judge_factory = judge_factory

    def score(self, request: ScoreRequest, **options: Any) -> ScoreRun:
        """`ascore` for callers without an event loop."""
        return asyncio.run(self.ascore(request, **options))

    async def ascore(
        self,
        request: ScoreRequest,
        *,
        judge_model: str | None = None,
        embedding_model: str | None = None,
        on_progress: ProgressCallback | None = None,
        skipped: dict[str, str] | None = None,
        gate: JudgeGate | None = None,
    ) -> ScoreRun:
        """`skipped`: the metrics no sample of the whole job can feed (a shard is scored
        with its job's); by default, those of this request's samples. `gate`: the job's
        cache and budget (by default neither)."""
        skipped = request.skipped_metrics() if skipped is None else skipped
        specs = [s for s in request.metric_specs() if s.name not in skipped]
        gate = gate or default_gate(self._settings)
        # A jury (`judges`): every judged metric is scored by each juror (jury.py).
        jurors = [judge_model or request.judge_model or self._settings.judge_model]
        if request.judges and not judge_model:
            jurors = list(request.judges)
        embeddings = embedding_model or request.embedding_model or self._settings.embedding_model
        need_llm = any(s.needs_judge for s in specs)
        panel = [
            self._judge_factory(
                juror,
                embeddings,
                self._settings,
                need_llm=need_llm,
                need_embeddings=index == 0 and any(s.needs_embeddings for s in specs),
                gate=gate,
            )
            for index, juror in enumerate(jurors if need_llm else jurors[:1])
        ]
        jury = len(panel) > 1
        scoring: _Scoring | None = None
        try:
            shared = panel[0].embeddings  # one embedding model, whoever judges
            built = {
                (s.name, j): s.build(judge.llm, shared)
                for s in specs
                for j, judge in enumerate(panel if s.needs_judge else panel[:1])
            }
            ids = sample_ids(request.samples)
            results = [
                SampleResult(sample_id=i, scores=dict.fromkeys(request.metrics)) for i in ids
            ]
            for result in results:
                for name, reason in skipped.items():
                    result.reasons[name] = ReasonCode.MISSING_INPUT
                    result.details[name] = reason
            # Each juror's own results, made one per pair once all are in.
            ballots = [[SampleResult(sample_id=i, scores={}) for i in ids] for _ in panel]
            calls = sum(len(panel) if s.needs_judge else 1 for s in specs)
            progress = Progress(samples_total=len(results), metric_calls_total=len(results) * calls)
            # Twice the judge's cap of metric calls in flight: while one call parses an
            # answer or builds its next prompt, another already waits with a request, so
            # the judge's C connections (limited by the provider client) never idle.
            in_flight = 2 * max(1, self._settings.max_concurrency)
            scoring = _Scoring(
                gate=gate,
                embeddings=embeddings,
                semaphore=asyncio.Semaphore(in_flight),
                tracker=_ProgressTracker(progress, calls, on_progress),
                # A thread for each call in flight that blocks on the loop's embedding
                # requests: in the loop's own default pool they would hold every thread
                # while the loop needs one to open a connection (a deadlock).
                blocking=ThreadPoolExecutor(in_flight, thread_name_prefix="blocking-metric"),
            )
            pairs = [
                (sample, index, spec, j)
                for index, sample in enumerate(request.samples)
                for spec in specs
                for j in range(len(panel) if spec.needs_judge else 1)
            ]
            # Longest chains of judge calls first, so the last calls to finish are short
            # ones and the judge's C slots stay busy to the end (the semaphore is FIFO).
            pairs.sort(key=lambda pair: -pair[2].chain_length(pair[0].contexts))
            await asyncio.gather(
                *(
                    self._score_one(
                        spec,
                        built[spec.name, j],
                        sample,
                        ballots[j][index] if jury and spec.needs_judge else results[index],
                        scoring,
                        jurors[j],
                    )
                    for sample, index, spec, j in pairs
                )
            )
            for spec in specs if jury else []:
                if spec.needs_judge:
                    for index, result in enumerate(results):
                        jury_verdict(spec, result, [b[index] for b in ballots], jurors)
        finally:
            if scoring is not None:
                scoring.blocking.shutdown(wait=False, cancel_futures=True)
            for judge in panel:
                await judge.aclose()
        return ScoreRun(
            metrics=list(request.metrics),
            results=results,
            skipped=skipped,
            weights=dict(request.weights),
            usage=gate.usage,
            metric_ms=scoring.timings,
            cache=gate.cache,
            concurrency=gate.limit.report(),
            scales={spec.name: spec.scale for spec in request.metric_specs()},
            jurors=jurors if jury else [],
        )

    async def _score_one(
        self,
        spec: MetricSpec,
        metric: Any,
        sample: Sample,
        result: SampleResult,
        scoring: _Scoring,
        judge: str,
    ) -> None:
        missing = sample.missing_inputs(spec.inputs)
        if missing:
            result.reasons[spec.name] = ReasonCode.MISSING_INPUT
            result.details[spec.name] = f"missing input: {', '.join(missing)}"
            scoring.tracker.done(result.sample_id)
            return
        arguments = spec.arguments(sample.model_dump())
        # What ragas reads: a conversation's messages as its own classes (the plain values
        # key the verdict cache).
        given = ragas_arguments(arguments) if spec.turns == "multi" else arguments
        started = time.monotonic()
        call = None
        reading: Reading | None = None
        try:
            if spec.model_free:
                value = await metric.ascore(**given)
            else:
                async with scoring.semaphore:
                    if scoring.gate.exhausted:  # no new pair once the budget is spent
                        raise BudgetExhausted("the job's budget was spent before this pair")
                    with metric_call() as call:
                        value = await asyncio.wait_for(
                            self._call(spec, metric, given, scoring.blocking),
                            timeout=self._settings.metric_timeout_seconds,
                        )
                    models = (judge, scoring.embeddings)
                    scoring.gate.mark_pair(pair_key(spec.key, models, arguments), call)
        except Exception as exc:  # one metric's failure must not sink the others
            reason = failure_reason(exc)
            result.reasons[spec.name] = reason
            result.details[spec.name] = f"{type(exc).__name__}: {exc}"[:300]
            logger.warning(
                "metric failed",
                extra={"metric": spec.name, "sample_id": result.sample_id, "reason": reason},
            )
        else:
            reading = spec.read(value)
            if reading.score is None:
                result.reasons[spec.name], result.details[spec.name] = _unscored(
                    reading, value, call.errors if call is not None else []
                )
            result.scores[spec.name] = (
                None if reading.score is None else spec.scale.clamp(reading.score)
            )
            if reading.category is not None:
                result.categories[spec.name] = reading.category
        finally:
            # What the judge answered, kept even when the metric then failed on it; else
            # the reason ragas gave with the score (a rubric's feedback, a count).
            evidence = evidence_for(spec.name, call.outputs) if call is not None else None
            if evidence is None and reading is not None and reading.reason:
                evidence = reason_evidence(reading.reason, reading.category)
            if evidence is None and reading is not None:  # a metric that asks no judge
                evidence = arguments_evidence(spec.name, arguments)
            if evidence is not None:
                result.evidence[spec.name] = evidence
            elapsed = time.monotonic() - started
            scoring.timings.setdefault(spec.name, []).append(round(elapsed * 1000))
            logger.debug("metric scored", extra={"metric": spec.name, "seconds": round(elapsed, 3)})
            scoring.tracker.done(result.sample_id)

    @staticmethod
    async def _call(
        spec: MetricSpec, metric: Any, arguments: dict[str, Any], blocking: ThreadPoolExecutor
    ) -> Any:
        """ragas' MetricResult, whatever the metric."""
        if spec.blocking_embeddings:
            # ragas calls the blocking embed_text() inside ascore(); keep it off our loop,
            # in the metric call's context (the gate counts its requests there).
            context = contextvars.copy_context()
            return await asyncio.get_running_loop().run_in_executor(
                blocking, context.run, lambda: asyncio.run(metric.ascore(**arguments))
            )
        return await metric.ascore(**arguments)


def _unscored(reading: Reading, value: Any, errors: list[BaseException]) -> tuple[ReasonCode, str]:
    """Why ragas gave no number: an answer off the metric's scale, a judge failure ragas
    caught and turned into NaN, or ragas' own NaN."""
    if reading.problem is not None:
        return ReasonCode.INVALID_JUDGE_OUTPUT, reading.problem
    if errors:
        exc = errors[-1]
        return failure_reason(exc), f"{type(exc).__name__}: {exc}"[:300]
    return ReasonCode.METRIC_ERROR, f"ragas returned {getattr(value, 'value', value)!r}"


@dataclass
class _Scoring:
    """What every pair of one scoring shares."""

    gate: JudgeGate
    embeddings: str  # the embedding model
    semaphore: asyncio.Semaphore
    tracker: _ProgressTracker
    blocking: ThreadPoolExecutor  # threads for metrics that block on the loop
    timings: dict[str, list[int]] = field(default_factory=dict)  # metric -> call durations


class _ProgressTracker:
    def __init__(self, progress: Progress, per_sample: int, callback: ProgressCallback | None):
        self.progress = progress
        self._per_sample = per_sample
        self._callback = callback
        self._remaining: Counter[str] = Counter()

    def done(self, sample_id: str) -> None:
        self.progress.metric_calls_done += 1
        self._remaining[sample_id] += 1
        if self._remaining[sample_id] == self._per_sample:
            self.progress.samples_done += 1
        if self._callback is not None:
            self._callback(self.progress)
