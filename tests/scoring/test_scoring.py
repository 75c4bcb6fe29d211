"""Scoring against the scripted judge: the numbers ragas gives, failures as reason codes,
bounded concurrency, and the run folder a job leaves behind."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from rag_eval.adapters.local_files import LocalObjectStore
from rag_eval.app.pipeline import ScoringPipeline
from rag_eval.domain.job import JobStatus, new_job
from rag_eval.domain.request import parse_request
from rag_eval.domain.results import ScoreRun, weighted_score
from rag_eval.domain.settings import Settings
from rag_eval.metrics import REGISTRY
from rag_eval.scoring.scorer import Scorer
from testkit.scripted_judge import ScriptedJudge
from tests.support.run_folder import RUN_FILES
from tests.support.samples import GREAT_WALL

ENGLISH = {
    "sample_id": "en-paris",
    "question": "What is the capital of France?",
    "answer": "Paris is the capital of France. Paris is the largest city of France.",
    "contexts": [
        "Paris is the capital and largest city of France.",
        "Berlin is the capital of Germany.",
    ],
    "ground_truth": "Paris is the capital of France.",
}
CHINESE = GREAT_WALL

# Our metric -> the ragas collections class and the ragas arguments it reads, written
# out here (not taken from our registry) so that the comparison is independent of it.
RAGAS_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "faithfulness": ("Faithfulness", ("user_input", "response", "retrieved_contexts")),
    "answer_relevancy": ("AnswerRelevancy", ("user_input", "response")),
    "context_precision": ("ContextPrecision", ("user_input", "retrieved_contexts", "reference")),
    "context_recall": ("ContextRecall", ("user_input", "retrieved_contexts", "reference")),
    "answer_correctness": ("AnswerCorrectness", ("user_input", "response", "reference")),
    "factual_correctness": ("FactualCorrectness", ("response", "reference")),
    "semantic_similarity": ("SemanticSimilarity", ("response", "reference")),
    "bleu_score": ("BleuScore", ("response", "reference")),
    "rouge_score": ("RougeScore", ("response", "reference")),
    "chrf_score": ("CHRFScore", ("response", "reference")),
    "exact_match": ("ExactMatch", ("response", "reference")),
    "string_presence": ("StringPresence", ("response", "reference")),
    "non_llm_string_similarity": ("NonLLMStringSimilarity", ("response", "reference")),
}
LLM_METRICS = (
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
    "answer_correctness",
    "factual_correctness",
)
EMBEDDING_METRICS = ("answer_relevancy", "answer_correctness", "semantic_similarity")


def ragas_arguments(sample: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_input": sample["question"],
        "response": sample["answer"],
        "retrieved_contexts": sample["contexts"],
        "reference": sample["ground_truth"],
    }


async def score_with_ragas(base_url: str, name: str, samples: list[dict[str, Any]]) -> list[float]:
    """What ragas itself gives, wired to the judge as its documentation shows."""
    from openai import AsyncOpenAI, OpenAI
    from ragas.embeddings import OpenAIEmbeddings
    from ragas.llms import llm_factory
    from ragas.metrics import collections

    class_name, argument_names = RAGAS_METRICS[name]
    async_client = AsyncOpenAI(base_url=base_url, api_key="test")
    sync_client = OpenAI(base_url=base_url, api_key="test")
    kwargs: dict[str, Any] = {}
    if name in LLM_METRICS:
        kwargs["llm"] = llm_factory("gpt-4o-mini", client=async_client)
    if name in EMBEDDING_METRICS:
        # SemanticSimilarity calls the sync embed_text() inside ascore().
        client = sync_client if name == "semantic_similarity" else async_client
        kwargs["embeddings"] = OpenAIEmbeddings(client=client)
    metric = getattr(collections, class_name)(**kwargs)
    try:
        values = []
        for sample in samples:
            arguments = {k: v for k, v in ragas_arguments(sample).items() if k in argument_names}
            values.append((await metric.ascore(**arguments)).value)
        return values
    finally:
        await async_client.close()
        sync_client.close()


def clamped(value: float) -> float:
    return min(1.0, max(0.0, value))


def score(body: dict[str, Any]) -> ScoreRun:
    return Scorer(Settings.from_env()).score(parse_request(body))


def assert_no_nan(run: ScoreRun) -> None:
    for value in [*run.means.values(), *(v for r in run.results for v in r.scores.values())]:
        assert value is None or math.isfinite(value)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def statuses_for(judge: ScriptedJudge, title: str) -> list[int]:
    return [status for _, seen, status in judge.request_log if seen == title]


# --- the numbers are ragas' numbers -----------------------------------------------------


@pytest.mark.parametrize("name", list(RAGAS_METRICS))
def test_each_metric_scores_what_ragas_itself_gives(judge_env: ScriptedJudge, name: str) -> None:
    # GIVEN an English and a Chinese sample, and the judge configured in the environment
    body = {"samples": [ENGLISH, CHINESE], "metrics": [name]}

    # WHEN we score them, and ragas scores them directly against the same judge
    run = score(body)
    expected = asyncio.run(score_with_ragas(judge_env.base_url, name, [ENGLISH, CHINESE]))

    # THEN every per-sample value is ragas' value (clamped to [0, 1]), nothing failed
    assert [r.scores[name] for r in run.results] == pytest.approx(
        [clamped(v) for v in expected], abs=1e-9
    )
    assert run.failures == {}
    assert [r.sample_id for r in run.results] == ["en-paris", "zh-great-wall"]


def test_registry_offers_exactly_the_metrics_compared_with_ragas() -> None:
    # GIVEN the comparison tables above and of test_ragas_metrics.py
    from tests.scoring import test_agent_metrics as agents
    from tests.scoring import test_ragas_metrics as more

    # WHEN set against the registry THEN nothing is untested
    conversation = {*agents.RAGAS_METRICS, *agents.RAGAS_RUBRICS}
    assert set(REGISTRY) == set(RAGAS_METRICS) | set(more.RAGAS_METRICS) | conversation
    assert {n for n, s in REGISTRY.items() if s.needs_judge} == {
        *LLM_METRICS,
        *more.LLM_METRICS,
        *(conversation - {"tool_call_accuracy", "tool_call_f1"}),
    }
    assert {n for n, s in REGISTRY.items() if s.needs_embeddings} == set(EMBEDDING_METRICS)


def test_llm_metrics_count_the_judge_tokens(judge_env: ScriptedJudge) -> None:
    # GIVEN judge-backed metrics
    # WHEN they score
    run = score({"samples": [ENGLISH, CHINESE], "metrics": ["faithfulness", "answer_relevancy"]})

    # THEN the tokens and requests the judge reported are counted
    stats = judge_env.stats()
    assert run.usage.requests == stats.total_calls > 0
    assert run.usage.input_tokens == stats.prompt_tokens > 0
    assert run.usage.output_tokens == stats.completion_tokens > 0


def test_model_free_metrics_make_no_judge_calls(judge_env: ScriptedJudge) -> None:
    run = score({"samples": [ENGLISH], "metrics": ["bleu_score", "chrf_score", "exact_match"]})
    assert all(v is not None for v in run.means.values())
    assert judge_env.total_calls == 0
    assert run.usage.requests == 0


# --- failures become reason codes, the rest still scores --------------------------------

FAILING_BODY = {
    "samples": [ENGLISH],
    "metrics": ["faithfulness", "context_recall", "bleu_score"],
}


def assert_only_context_recall_failed(run: ScoreRun, reason: str) -> None:
    result = run.results[0]
    assert result.scores["context_recall"] is None
    assert result.reasons == {"context_recall": reason}
    assert result.scores["faithfulness"] == 1.0
    assert result.scores["bleu_score"] is not None
    assert run.failures == {"context_recall": {reason: 1}}
    assert run.means["context_recall"] is None
    assert run.coverage == pytest.approx(2 / 3, abs=1e-4)
    assert run.weighted_score == weighted_score(
        {"faithfulness": 1.0, "bleu_score": run.means["bleu_score"]}
    )
    assert_no_nan(run)


def test_rate_limit_with_retry_after_is_waited_out_and_scores(judge_env: ScriptedJudge) -> None:
    # GIVEN the judge answers context recall's first request with 429, Retry-After 0.2 s
    judge_env.fail_next("rate_limit", retry_after=0.2, fail_titles={"ContextRecallOutput"})

    # WHEN the metrics score
    started = time.monotonic()
    run = score(FAILING_BODY)

    # THEN everything scores, after waiting out the Retry-After and retrying once
    assert time.monotonic() - started >= 0.2
    assert run.failures == {}
    assert run.results[0].scores["context_recall"] == 1.0
    assert statuses_for(judge_env, "ContextRecallOutput") == [429, 200]


@pytest.mark.parametrize(
    ("kind", "options", "reason"),
    [
        ("rate_limit", {"retry_after": 0.01}, "rate_limited"),
        ("server_error", {"status": 503, "retry_after": 0.01}, "judge_error"),
        ("garbage", {}, "invalid_judge_output"),
    ],
)
def test_a_persistent_judge_failure_fails_only_that_metric(
    judge_env: ScriptedJudge,
    kind: str,
    options: dict[str, Any],
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN context recall's prompts keep failing, beyond the client's retries and
    # instructor's re-asks (429s too: adaptive concurrency, which waits them out, is off)
    monkeypatch.setenv("RAGAS_ADAPTIVE_CONCURRENCY", "false")
    judge_env.fail_next(kind, count=20, fail_titles={"ContextRecallOutput"}, **options)

    # WHEN the metrics score
    run = score(FAILING_BODY)

    # THEN context recall is None with the reason code; the others score
    assert_only_context_recall_failed(run, reason)


def test_persistent_rate_limit_is_retried_as_often_as_configured(
    judge_env: ScriptedJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two retries allowed, adaptive concurrency off, and a judge that keeps
    # answering 429
    monkeypatch.setenv("RAGAS_MAX_RETRIES", "2")
    monkeypatch.setenv("RAGAS_ADAPTIVE_CONCURRENCY", "false")
    judge_env.fail_next(
        "rate_limit", count=20, retry_after=0.01, fail_titles={"ContextRecallOutput"}
    )

    # WHEN the metrics score
    run = score(FAILING_BODY)

    # THEN the request was made three times before context recall gave up as rate limited
    assert statuses_for(judge_env, "ContextRecallOutput") == [429, 429, 429]
    assert run.results[0].reasons == {"context_recall": "rate_limited"}


def test_a_hanging_judge_times_out_the_metric_on_time(
    judge_env: ScriptedJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 1 s metric timeout and a judge that never answers context recall
    monkeypatch.setenv("RAGAS_METRIC_TIMEOUT_SECONDS", "1")
    judge_env.fail_next("hang", fail_titles={"ContextRecallOutput"})

    # WHEN the metrics score
    started = time.monotonic()
    run = score(FAILING_BODY)
    elapsed = time.monotonic() - started

    # THEN the run ends (while the judge still hangs), with context recall timed out after
    # its 1 s; how soon after is the benchmarks' business, not a test's
    assert elapsed >= 1.0
    assert judge_env.stats().in_flight >= 1
    assert_only_context_recall_failed(run, "timeout")


@pytest.mark.integration  # a server of its own on loopback
def test_an_unreachable_judge_fails_the_llm_metrics_as_judge_errors(
    no_judge_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a judge URL where nothing listens
    monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url())
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("RAGAS_MAX_RETRIES", "0")

    # WHEN the metrics score
    run = score({**FAILING_BODY, "samples": [ENGLISH, CHINESE]})

    # THEN the LLM metrics are judge errors on every sample; the model-free one scores
    assert run.failures == {
        "faithfulness": {"judge_error": 2},
        "context_recall": {"judge_error": 2},
    }
    assert run.means["faithfulness"] is None and run.means["context_recall"] is None
    assert run.means["bleu_score"] is not None
    assert run.weighted_score == run.means["bleu_score"]
    assert run.usage.requests == 0
    assert_no_nan(run)


def test_failing_embeddings_fail_the_embedding_metric(judge_env: ScriptedJudge) -> None:
    # GIVEN the embeddings endpoint keeps answering 500
    judge_env.fail_next("server_error", count=20, endpoint="embeddings", retry_after=0.01)

    # WHEN an LLM-only and an embedding metric score
    run = score({"samples": [ENGLISH], "metrics": ["faithfulness", "semantic_similarity"]})

    # THEN only the embedding metric fails, as a judge error
    assert run.results[0].reasons == {"semantic_similarity": "judge_error"}
    assert run.results[0].scores["faithfulness"] == 1.0


def test_many_samples_of_a_blocking_embedding_metric_all_score(
    judge_env: ScriptedJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN more samples of semantic_similarity (whose ragas calls block a thread on the
    # loop's embedding requests) than the loop's default pool has threads on 2 cores
    monkeypatch.setenv("RAGAS_METRIC_TIMEOUT_SECONDS", "20")
    samples = [ENGLISH | {"sample_id": f"s{i}"} for i in range(16)]

    # WHEN they are scored
    run = score({"samples": samples, "metrics": ["semantic_similarity"]})

    # THEN every one scores: none waits for a thread the others hold until it times out
    assert run.failures == {}
    assert all(r.scores["semantic_similarity"] is not None for r in run.results)


def test_a_sample_missing_an_input_is_not_scored_for_that_metric(judge_env: ScriptedJudge) -> None:
    # GIVEN two samples, one without a ground truth
    no_truth = {k: v for k, v in ENGLISH.items() if k not in ("ground_truth", "sample_id")}

    # WHEN context recall scores
    run = score({"samples": [no_truth, CHINESE], "metrics": ["context_recall"]})

    # THEN that sample is missing_input, the other scores and sets the mean
    assert run.results[0].sample_id == "sample-0001"
    assert run.results[0].reasons == {"context_recall": "missing_input"}
    assert run.results[1].scores["context_recall"] == 1.0
    assert run.means == {"context_recall": 1.0}
    assert run.failures == {"context_recall": {"missing_input": 1}}


# --- bounded concurrency ----------------------------------------------------------------

CONCURRENCY_BODY = {
    "samples": [{**ENGLISH, "sample_id": f"s{i}"} for i in range(4)],
    "metrics": ["context_recall", "faithfulness", "answer_relevancy", "semantic_similarity"],
}


@pytest.mark.parametrize(("limit", "allowed"), [(2, range(1, 3)), (8, range(3, 9))])
def test_judge_calls_in_flight_stay_within_the_concurrency_limit(
    judge_env: ScriptedJudge,
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
    allowed: range,
) -> None:
    # GIVEN a judge that takes 50 ms per request, and a concurrency limit
    judge_env.latency_s = 0.05
    monkeypatch.setenv("RAGAS_MAX_CONCURRENCY", str(limit))

    # WHEN 4 samples x 4 metrics (chat and embedding calls) score
    run = score(CONCURRENCY_BODY)

    # THEN everything scored, and the judge never saw more requests at once than allowed
    # (embedding calls included), but did see them in parallel
    stats = judge_env.stats()
    assert run.failures == {}
    assert stats.embedding_calls > 0 and stats.chat_calls > 0
    assert stats.max_in_flight in allowed


def test_noise_sensitivity_asks_its_verdicts_at_once(
    judge_env: ScriptedJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a judge that takes 200 ms per request, room for 16 requests at once, and one
    # sample with 4 contexts (ragas asks its 3 + 2 x 4 calls one after another)
    judge_env.latency_s = 0.2
    monkeypatch.setenv("RAGAS_MAX_CONCURRENCY", "16")
    sample = ENGLISH | {"contexts": [*ENGLISH["contexts"], "Lyon is in France.", "Rome."]}

    # WHEN noise_sensitivity scores it
    run = score({"samples": [sample], "metrics": ["noise_sensitivity"]})

    # THEN the same 11 calls were asked, the 9 verdicts side by side (a chain of 2) where
    # ragas has one in flight at a time (a request may finish before the last is sent)
    stats = judge_env.stats()
    assert run.failures == {}
    assert stats.chat_calls == 11 and stats.max_in_flight >= 7


# --- the pipeline: a job end to end ----------------------------------------------------


def run_job(body: dict[str, Any], root: Path) -> JobStatus:
    settings = Settings.from_env()
    request = parse_request(body)
    job = new_job(request, settings)
    pipeline = ScoringPipeline(settings, LocalObjectStore(root))
    return asyncio.run(pipeline.arun(job, request))


def test_a_job_completes_and_writes_the_run_folder(
    judge_env: ScriptedJudge, tmp_path: Path
) -> None:
    # GIVEN an English and a Chinese sample, judge and model-free metrics, a weight
    metrics = ["faithfulness", "answer_relevancy", "context_recall", "chrf_score"]
    body = {"samples": [ENGLISH, CHINESE], "metrics": metrics, "weights": {"faithfulness": 2}}

    # WHEN the job runs
    job = run_job(body, tmp_path)

    # THEN it is completed with every mean, a 4-decimal weighted score and full coverage
    assert job.status == "completed"
    assert job.error is None
    assert list(job.scores) == metrics
    assert all(value is not None for value in job.scores.values())
    assert job.weighted_score == weighted_score(job.scores, {"faithfulness": 2})
    assert job.weighted_score == round(job.weighted_score, 4)
    assert job.coverage == 1.0
    # AND every mean has its 95% interval, the weighted score too
    assert set(job.intervals) == {*metrics, "weighted_score"}
    for name, interval in job.intervals.items():
        assert interval.low <= interval.mean <= interval.high, name
    assert job.skipped_metrics == []
    assert job.metric_failures == {}
    assert job.progress.samples_done == 2
    assert job.token_usage.requests > 0 and job.token_usage.input_tokens > 0

    # AND the run folder holds its seven files under score-async/<run_id>/
    folder = tmp_path / "score-async" / job.run_id
    assert {p.name for p in folder.iterdir()} == RUN_FILES
    assert job.artifact_keys["scores.csv"] == f"score-async/{job.run_id}/scores.csv"

    # AND scores.csv has one row per sample with its inputs, an error column and the metrics
    rows = list(csv.DictReader(io.StringIO((folder / "scores.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 2
    columns = [
        "sample_id",
        "question",
        "answer",
        "contexts",
        "ground_truth",
        "error",
        "why",
        *metrics,
    ]
    assert list(rows[0])[: len(columns)] == columns
    chinese = rows[1]
    assert chinese["sample_id"] == "zh-great-wall"
    assert chinese["question"] == CHINESE["question"]
    assert json.loads(chinese["contexts"]) == CHINESE["contexts"]
    assert chinese["ground_truth"] == CHINESE["ground_truth"]
    assert chinese["error"] == ""
    assert 0.0 <= float(chinese["faithfulness"]) <= 1.0

    # AND metadata.json says the versions, sample counts and token usage
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["run_id"] == job.run_id and metadata["job_id"] == job.job_id
    assert metadata["versions"]["ragas"] == "0.4.3"
    assert metadata["samples"] == {"total": 2, "fully_scored": 2, "cancelled": 0}
    assert metadata["token_usage"] == job.token_usage.model_dump()
    assert metadata["weighted_score"] == job.weighted_score

    # AND request.json is the request as submitted, summary.md names the run and metrics
    snapshot = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    assert [s["question"] for s in snapshot["samples"]] == [
        ENGLISH["question"],
        CHINESE["question"],
    ]
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert job.run_id in summary
    assert all(name in summary for name in metrics)
    assert (folder / "optimization_advice.md").read_text(encoding="utf-8").strip()


def test_a_failing_narrative_and_skipped_metric_do_not_fail_the_job(
    judge_env: ScriptedJudge, tmp_path: Path
) -> None:
    # GIVEN samples without ground truth (context recall can't score) and a judge that
    # fails every advice-narrative request
    no_truth = [{k: v for k, v in s.items() if k != "ground_truth"} for s in (ENGLISH, CHINESE)]
    judge_env.fail_next("server_error", count=20, fail_titles={"AdviceNarrative"})

    # WHEN the job runs
    job = run_job({"samples": no_truth, "metrics": ["faithfulness", "context_recall"]}, tmp_path)

    # THEN it completes, with context recall skipped and its reason
    assert job.status == "completed"
    assert job.scores["context_recall"] is None
    assert job.skipped_metrics == ["context_recall"]
    assert job.skip_reasons == {"context_recall": "missing input: ground_truth"}
    assert job.metric_failures == {}
    assert job.coverage == 1.0  # context_recall's pairs lack their input: not counted
    assert job.weighted_score == job.scores["faithfulness"]

    # AND the judge was asked for the narrative and failed, yet the advice was written
    assert 500 in statuses_for(judge_env, "AdviceNarrative")
    advice = (tmp_path / "score-async" / job.run_id / "optimization_advice.md").read_text()
    assert advice.startswith("# Optimization advice")
    csv_text = (tmp_path / "score-async" / job.run_id / "scores.csv").read_text(encoding="utf-8")
    assert "context_recall: missing_input" in csv_text
